"""Writes tests/data/diagnostics_fixture.json: fixed-seed MCMC-like chains and ArviZ's diagnostics
of them, the independent reference that tests/diagnostics.rs checks snell::diagnostics against.

Run once, from the repository root, in a venv with ArviZ:

    python3 -m venv /tmp/az && /tmp/az/bin/pip install arviz==0.23.4 numpy scipy
    /tmp/az/bin/python tests/data/make_diagnostics_fixture.py

Draws are rounded to 6 significant digits before anything is computed, so the reference values
are those of exactly the numbers stored in the JSON.
"""

import json
import pathlib

import arviz as az
import numpy as np
import scipy
from arviz.stats.diagnostics import _rhat, _split_chains, _z_scale
from arviz.stats.stats_utils import quantile as az_quantile

OUT = pathlib.Path(__file__).with_name("diagnostics_fixture.json")
QUANTILES = [0.05, 0.5, 0.95]


def ar1(rng, n_chains, n_draws, rho, start_sd=1.0):
    """Stationary AR(1) with unit marginal variance: x_t = rho x_{t-1} + sqrt(1 - rho^2) e_t."""
    x = np.empty((n_chains, n_draws))
    x[:, 0] = rng.normal(size=n_chains) * start_sd
    scale = np.sqrt(1.0 - rho**2)
    for t in range(1, n_draws):
        x[:, t] = rho * x[:, t - 1] + scale * rng.normal(size=n_chains)
    return x


def cases():
    rng = np.random.default_rng(20240611)
    c, n = 4, 500
    yield "iid_normal", rng.normal(size=(c, n))
    yield "ar1_rho_0.9", ar1(rng, c, n, 0.9)
    yield "ar1_rho_0.99", ar1(rng, c, n, 0.99)
    yield "antithetic_rho_-0.3", ar1(rng, c, n, -0.3)
    yield "student_t_df_3", rng.standard_t(3.0, size=(c, n))
    shifted = ar1(rng, c, n, 0.5)
    shifted[3] += 0.5
    yield "one_chain_shifted", shifted
    yield "gamma_shape_2", rng.gamma(2.0, 1.5, size=(c, n))
    yield "poisson_ties", rng.poisson(3.0, size=(c, n)).astype(float)
    yield "odd_length_251", ar1(rng, c, 251, 0.7)
    yield "single_chain", ar1(rng, 1, 500, 0.6)
    yield "constant", np.full((c, 20), 2.5)


def round6(x):
    return np.vectorize(lambda v: float(f"{v:.6g}"))(x)


def num(x):
    """JSON has no NaN: a non-finite value is written as null."""
    x = float(x)
    return x if np.isfinite(x) else None


def reference(draws):
    pooled = draws.ravel()
    # snell, like numpy and R's type 7, does not interpolate between tied order statistics;
    # ArviZ's mquantiles does (1-g)*a + g*a, which can miss a by an ulp. The tail-ESS indicator
    # x <= q is then only well defined if both agree, which this checks.
    for p in (0.05, 0.95):
        (q_az,) = az_quantile(draws, p)
        q_np = np.quantile(pooled, p)
        assert np.array_equal(draws <= q_az, draws <= q_np), p

    split = _split_chains(draws)
    folded = np.abs(split - np.median(split))
    ref = {
        "mean": num(pooled.mean()),
        "sd": num(pooled.std(ddof=1)),
        "quantiles": [num(np.quantile(pooled, q)) for q in QUANTILES],
        "rhat": num(az.rhat(draws, method="rank")),
        # The two halves of the rank R-hat, from ArviZ's building blocks (the split chains'
        # bulk R-hat and folded tail R-hat); for one chain these are posterior's definition,
        # which ArviZ's public rhat refuses (it wants two chains).
        "rhat_bulk": num(_rhat(_z_scale(split))),
        "rhat_tail": num(_rhat(_z_scale(folded))),
        "ess_bulk": num(az.ess(draws, method="bulk")),
        "ess_tail": num(az.ess(draws, method="tail")),
        "ess_mean": num(az.ess(draws, method="mean")),
        "ess_quantile": [num(az.ess(draws, method="quantile", prob=q)) for q in QUANTILES],
        "mcse_mean": num(az.mcse(draws, method="mean")),
        "mcse_sd": num(az.mcse(draws, method="sd")),
        "mcse_quantile": [num(az.mcse(draws, method="quantile", prob=q)) for q in QUANTILES],
    }
    return ref


def main():
    out = {
        "provenance": {
            "generator": "tests/data/make_diagnostics_fixture.py",
            "arviz": az.__version__,
            "numpy": np.__version__,
            "scipy": scipy.__version__,
            "quantile_probs": QUANTILES,
            "note": "draws[c] is chain c; reference values are computed from the rounded draws; "
            "null stands for NaN",
        },
        "cases": [],
    }
    for name, draws in cases():
        draws = round6(draws)
        out["cases"].append(
            {"name": name, "draws": draws.tolist(), "reference": reference(draws)}
        )
    OUT.write_text(json.dumps(out, separators=(",", ":")) + "\n")
    print(f"wrote {OUT} ({OUT.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
