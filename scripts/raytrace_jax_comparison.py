#!/usr/bin/env python3
"""Runs the ray-tracing paper's own sampler (PyPI `raytrace_jax` 0.0.2, JAX on CPU, float64) on
the targets and settings of `examples/ray_tracing_vs_jax.rs`, and writes its acceptance rates,
moments and time per gradient to `output/raytrace_jax.json`, which that example prints beside
snell's numbers.

    python3 -m venv /tmp/rtjax && /tmp/rtjax/bin/pip install raytrace_jax==0.0.2 jax
    /tmp/rtjax/bin/python scripts/raytrace_jax_comparison.py
    cargo run --release --example ray_tracing_vs_jax

One chain per case (as the package samples), `sample_raytrace` with its defaults (DKD, full
velocity refresh, Metropolis test), started from an exact draw (Gaussians) or (−2, 0) (mixture).
Times are measured on a second call, after JIT compilation.
"""

import json
import pathlib
import time

import jax

jax.config.update("jax_enable_x64", True)
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import raytrace_jax as rt  # noqa: E402


def std_normal(x):
    return -0.5 * jnp.sum(x**2)


def mixture(x):
    return jnp.logaddexp(-0.5 * (x[0] - 2.0) ** 2, -0.5 * (x[0] + 2.0) ** 2) - 0.5 * x[1] ** 2


# name, log density, dimension, dt, steps per trajectory, trajectories (Table 1 settings)
CASES = [
    ("gaussian_10", std_normal, 10, 0.71, 2, 20000),
    ("gaussian_100", std_normal, 100, 0.52, 3, 20000),
    ("gaussian_1000", std_normal, 1000, 0.26, 6, 5000),
    ("gaussian_10000", std_normal, 10000, 0.17, 10, 2000),
    ("mixture_2", mixture, 2, 0.3, 5, 20000),
]


def main():
    out = {"source": "raytrace_jax 0.0.2, jax " + jax.__version__ + ", CPU, float64", "cases": []}
    for name, f, d, dt, steps, n in CASES:
        rng = np.random.default_rng(1)
        x0 = jnp.asarray(rng.standard_normal(d)) if name.startswith("gaussian") else jnp.asarray([-2.0, 0.0])
        key = jax.random.PRNGKey(0)
        run = lambda k: rt.sample_raytrace(k, x0, f, n, steps, dt)  # noqa: E731
        chain, lnl = run(key)  # compiles
        jax.block_until_ready(chain)
        t = time.perf_counter()
        chain, lnl = run(jax.random.PRNGKey(1))
        jax.block_until_ready(chain)
        wall = time.perf_counter() - t
        chain = np.asarray(chain)
        # acceptance: the fraction of trajectories that moved
        moved = np.mean(np.any(chain[1:] != chain[:-1], axis=1))
        case = {
            "name": name,
            "dim": d,
            "dt": dt,
            "steps": steps,
            "trajectories": n,
            "acceptance": float(moved),
            "mean_x1": float(chain[:, 0].mean()),
            "var_x1": float(chain[:, 0].var()),
            "mean_var": float(chain.var(axis=0).mean()),
            "mean_neg_lnl": float(-np.asarray(lnl).mean()),
            "frac_x1_positive": float((chain[:, 0] > 0).mean()),
            # steps gradients plus two density values per trajectory
            "us_per_gradient": 1e6 * wall / (n * steps),
            "wall_s": wall,
        }
        print(json.dumps(case))
        out["cases"].append(case)
    path = pathlib.Path(__file__).resolve().parent.parent / "output" / "raytrace_jax.json"
    path.parent.mkdir(exist_ok=True)
    path.write_text(json.dumps(out, indent=1) + "\n")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
