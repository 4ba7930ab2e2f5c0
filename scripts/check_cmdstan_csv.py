#!/usr/bin/env python3
"""Checks that cmdstanpy and ArviZ read snell's CmdStan CSV files (snell::output::CsvWriter).

`cargo test` runs it (tests/output.rs, `cmdstanpy_and_arviz_read_every_samplers_files`) in a
virtual environment it makes under the build folder, and skips it, saying why, where it cannot.
By hand it needs cmdstanpy and ArviZ (no CmdStan install):

    python3 -m venv /tmp/csvenv
    /tmp/csvenv/bin/pip install cmdstanpy==1.3.2 arviz==0.23.4

Write the files (eight schools, 4 chains x 200 draws, by NUTS with a diagonal and a dense metric,
static HMC, MALA, ray tracing, random-walk Metropolis and BAOAB, and SMC's particles and VI's
draws written after the fact, plus the draws snell returned, as JSON) with the ignored test,
then check them (cmdstanpy 1.3.2 refuses files without warmup, so SMC's and VI's only go through
ArviZ):

    SNELL_CSV_DIR=/tmp/snell-csv cargo test --release --test output -p snell-examples \
        -- --ignored write_csv_for_python_check
    /tmp/csvenv/bin/python scripts/check_cmdstan_csv.py /tmp/snell-csv

(`--run` does the first step itself.) For each run it checks that `cmdstanpy.from_csv` and
`arviz.from_cmdstan` (and `arviz.from_cmdstanpy`) load the files with the right shapes, and that
draws, `lp__`, sampler statistics, step sizes and inverse metrics equal what snell returned, bit
for bit. Exits non-zero on the first failure.
"""

import argparse
import json
import logging
import os
import subprocess
import sys

import numpy as np


def check(cond, what):
    if not cond:
        raise SystemExit(f"FAIL: {what}")
    print(f"  ok: {what}")


def check_run(json_path):
    import arviz as az
    import cmdstanpy

    with open(json_path) as f:
        ref = json.load(f)
    files, names, stat_names = ref["files"], ref["names"], ref["stat_names"]
    chains = ref["chains"]
    n_chains, n_names, n_stats = len(chains), len(names), len(stat_names)
    n_draws = len(chains[0]["lp"])
    # reference arrays: (draws, chains, columns) in the file's column order
    rows = np.stack(
        [
            np.column_stack(
                [
                    np.array(c["lp"]),
                    np.array(c["stats"]).reshape(n_draws, n_stats),
                    np.array(c["values"]).reshape(n_draws, n_names),
                ]
            )
            for c in chains
        ],
        axis=1,
    )
    values = rows[:, :, 1 + n_stats :]  # (draws, chains, names)
    sampler = ref.get("sampler", "nuts")
    hmc = sampler in ("nuts", "hmc")
    print(f"{os.path.basename(json_path)}: {sampler}, {n_chains} chains x {n_draws} draws, {n_names} values, dense={ref['dense']}")

    # --- cmdstanpy ---
    # cmdstanpy 1.3.2 refuses files with num_warmup = 0 (SMC's particles, VI's draws)
    fit = None
    if ref.get("warmup", 1) > 0:
        fit = cmdstanpy.from_csv(files)
        check(isinstance(fit, cmdstanpy.CmdStanMCMC), "cmdstanpy.from_csv gives a CmdStanMCMC")
        check(fit.chains == n_chains and fit.num_draws_sampling == n_draws, "cmdstanpy: chains and draws")
        check(fit.metadata.cmdstan_config["model"] == "eight_schools_model", "cmdstanpy: model name")
        if hmc:
            check(fit.metric_type == ("dense_e" if ref["dense"] else "diag_e"), f"cmdstanpy: metric_type {fit.metric_type}")
        want_cols = ["lp__"] + stat_names + [n if "." not in n else n.split(".")[0] + "[" + ",".join(n.split(".")[1:]) + "]" for n in names]
        check(list(fit.column_names) == want_cols, "cmdstanpy: column names (theta_raw.1 -> theta_raw[1])")
        draws = fit.draws()
        check(draws.shape == (n_draws, n_chains, 1 + n_stats + n_names), f"cmdstanpy: draws() shape {draws.shape}")
        check(np.array_equal(draws, rows), "cmdstanpy: every number equals snell's, bit for bit")
        if hmc:
            check(np.array_equal(fit.step_size, [c["step_size"] for c in chains]), "cmdstanpy: step sizes")
            d = n_names  # eight schools: unconstrained dimension = number of values
            inv = np.array([c["inv_metric"] for c in chains])
            if ref["dense"]:
                inv = inv.reshape(n_chains, d, d)
            check(fit.inv_metric.shape == inv.shape and np.array_equal(fit.inv_metric, inv), f"cmdstanpy: inverse metric {fit.inv_metric.shape}")
        theta = fit.stan_variable("theta_raw")
        check(theta.shape == (n_chains * n_draws, 8), f"cmdstanpy: stan_variable('theta_raw') shape {theta.shape}")
        check(np.array_equal(theta, values[:, :, 2:].transpose(1, 0, 2).reshape(-1, 8)), "cmdstanpy: theta_raw values (chains concatenated)")
        check(fit.stan_variable("mu").shape == (n_chains * n_draws,), "cmdstanpy: stan_variable('mu') shape")
        pdf = fit.draws_pd()
        check(pdf.shape == (n_chains * n_draws, 3 + 1 + n_stats + n_names), f"cmdstanpy: draws_pd shape {pdf.shape}")
        xr = fit.draws_xr()
        check(xr["theta_raw"].shape == (n_chains, n_draws, 8), f"cmdstanpy: draws_xr theta_raw {xr['theta_raw'].shape}")
        check(xr.attrs["stan_version"] == "2.33.0", "cmdstanpy: stan_version attribute")
        if hmc:
            check(list(fit.divergences) == [int(np.sum(np.array(c["stats"]).reshape(n_draws, n_stats)[:, stat_names.index("divergent__")])) for c in chains], "cmdstanpy: divergences per chain")
        check(all(t.get("total", -1) >= 0 for t in fit.time), "cmdstanpy: timing block")

    # --- ArviZ ---
    idata = az.from_cmdstan(files)
    post = idata.posterior
    check(post["theta_raw"].shape == (n_chains, n_draws, 8), f"arviz.from_cmdstan: theta_raw {post['theta_raw'].shape}")
    check(post["mu"].shape == (n_chains, n_draws) and post["tau"].shape == (n_chains, n_draws), "arviz.from_cmdstan: mu, tau shapes")
    vals = values.transpose(1, 0, 2)  # (chains, draws, names)
    check(np.array_equal(post["mu"].values, vals[:, :, 0]) and np.array_equal(post["tau"].values, vals[:, :, 1]), "arviz.from_cmdstan: mu, tau values")
    check(np.array_equal(post["theta_raw"].values, vals[:, :, 2:]), "arviz.from_cmdstan: theta_raw values")
    ss = idata.sample_stats
    check(np.array_equal(ss["lp"].values, rows[:, :, 0].T), "arviz.from_cmdstan: lp")
    for stat, name in [("accept_stat__", "acceptance_rate"), ("stepsize__", "step_size"), ("treedepth__", "tree_depth"), ("n_leapfrog__", "n_steps"), ("divergent__", "diverging"), ("energy__", "energy")]:
        if stat not in stat_names:
            continue
        got = ss[name].values
        want = rows[:, :, 1 + stat_names.index(stat)].T
        check(got.shape == (n_chains, n_draws) and np.array_equal(got.astype(float), want), f"arviz.from_cmdstan: sample_stats.{name}")
    summary = az.summary(idata, var_names=["mu", "tau"])
    check(summary.shape[0] == 2 and np.all(np.isfinite(summary["r_hat"])), "arviz.summary runs (r_hat finite)")

    if "log_weight__" in stat_names:
        want = rows[:, :, 1 + stat_names.index("log_weight__")].T
        check(np.array_equal(ss["log_weight"].values, want), "arviz.from_cmdstan: sample_stats.log_weight (SMC's weights)")
    if fit is not None:
        idata2 = az.from_cmdstanpy(fit)
        check(np.array_equal(idata2.posterior["theta_raw"].values, vals[:, :, 2:]), "arviz.from_cmdstanpy: theta_raw values")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("dir", nargs="?", default="/tmp/snell-csv", help="folder with the CSV and JSON files")
    parser.add_argument("--run", action="store_true", help="write the files first (runs cargo test)")
    args = parser.parse_args()
    if args.run:
        root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        cmd = ["cargo", "test", "--release", "--test", "output", "-p", "snell-examples", "--", "--ignored", "write_csv_for_python_check"]
        subprocess.run(cmd, cwd=root, check=True, env={**os.environ, "SNELL_CSV_DIR": os.path.abspath(args.dir)})
    logging.getLogger("cmdstanpy").setLevel(logging.ERROR)
    import arviz
    import cmdstanpy

    print(f"cmdstanpy {cmdstanpy.__version__}, arviz {arviz.__version__}")
    runs = sorted(f for f in os.listdir(args.dir) if f.endswith(".json"))
    if not runs:
        raise SystemExit(f"no .json files in {args.dir}: run with --run, or see the docstring")
    for f in runs:
        check_run(os.path.join(args.dir, f))
    print("all checks passed")


if __name__ == "__main__":
    sys.exit(main())
