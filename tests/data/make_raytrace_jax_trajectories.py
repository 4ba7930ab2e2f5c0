"""Writes tests/data/raytrace_jax_trajectories.json: deterministic trajectories of the ray-tracing
paper's own JAX code (PyPI `raytrace_jax` 0.0.2, Apache-2.0), the reference that
tests/ray_tracing_reference.rs checks snell's integrators against.

Each case starts at a fixed (x0, v0) and takes `steps` DKD steps of size `dt` with no velocity
refresh, one step per call of the package's own integrator (`raytracer_leapfrog_norefresh` for ray
tracing, `hmc_leapfrog_norefresh` for HMC), in float64; the position after every step, the final
velocity and the accumulated `dlnL_pred` (ray tracing) or kinetic-energy change (HMC) are stored.

Run once, from the repository root:

    python3 -m venv /tmp/rtjax && /tmp/rtjax/bin/pip install raytrace_jax==0.0.2 jax
    /tmp/rtjax/bin/python tests/data/make_raytrace_jax_trajectories.py
"""

import json
import pathlib

import jax

jax.config.update("jax_enable_x64", True)
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import raytrace_jax as rt  # noqa: E402


def gaussian(x):
    """Anisotropic Gaussian, sds 0.5 ... 2 (log grid)."""
    sd = 0.5 * 4.0 ** (jnp.arange(x.size) / (x.size - 1))
    return -0.5 * jnp.sum((x / sd) ** 2)


def quartic(x):
    """Anisotropic quadratic plus a quartic and a coupling term (as tests/ray_tracing.rs)."""
    s = 1.0 + (jnp.arange(x.size) % 5) * 0.5
    c = jnp.sum(x)
    return -jnp.sum(0.5 * s * x**2 + 0.05 * x**4) - 0.01 * c * c


def mixture(x):
    """The 2-D Gaussian mixture of the paper's Figure 1."""
    return jnp.logaddexp(-0.5 * (x[0] - 2.0) ** 2, -0.5 * (x[0] + 2.0) ** 2) - 0.5 * x[1] ** 2


TARGETS = {"gaussian": gaussian, "quartic": quartic, "mixture": mixture}

CASES = [
    # name, target, kind, dim, dt, steps, seed
    ("gaussian_rt", "gaussian", "raytrace", 6, 0.1, 30, 1),
    ("quartic_rt", "quartic", "raytrace", 10, 0.08, 40, 2),
    ("mixture_rt", "mixture", "raytrace", 2, 0.05, 60, 3),
    ("quartic_rt_large_step", "quartic", "raytrace", 10, 0.4, 10, 4),
    ("quartic_hmc", "quartic", "hmc", 10, 0.08, 40, 5),
]


def main():
    out = []
    for name, target, kind, dim, dt, steps, seed in CASES:
        f = TARGETS[target]
        rng = np.random.default_rng(seed)
        x0 = rng.standard_normal(dim)
        v0 = rng.standard_normal(dim)
        step = rt.raytracer_leapfrog_norefresh if kind == "raytrace" else rt.hmc_leapfrog_norefresh
        one = jax.jit(lambda x, v: step(x, v, f, dt, 1, 0.0, jax.random.PRNGKey(0))[:3])
        x, v, pred = jnp.asarray(x0), jnp.asarray(v0), 0.0
        xs = []
        for _ in range(steps):
            x, v, p = one(x, v)
            pred += float(p)
            xs.append([float(a) for a in x])
        out.append(
            {
                "name": name,
                "target": target,
                "kind": kind,
                "dt": dt,
                "steps": steps,
                "x0": [float(a) for a in x0],
                "v0": [float(a) for a in v0],
                "xs": xs,
                "v_final": [float(a) for a in v],
                "dlnl_pred": pred,
                "lnl_final": float(f(x)),
            }
        )
    meta = {"source": "raytrace_jax 0.0.2 (PyPI), jax " + jax.__version__ + ", float64", "cases": out}
    path = pathlib.Path(__file__).with_name("raytrace_jax_trajectories.json")
    path.write_text(json.dumps(meta, indent=1) + "\n")
    print(f"wrote {path}: {len(out)} cases")


if __name__ == "__main__":
    main()
