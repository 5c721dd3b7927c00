#!/usr/bin/env python3
"""PyTorch reference trajectories for cimm's optimizers (test/fixtures/torch/*.json).

For each optimizer configuration below (SGD plain, with momentum, dampening, Nesterov,
weight decay, maximize, parameter groups; Adam, with L2 weight decay, AMSGrad, other betas,
maximize, parameter groups; AdamW, with AMSGrad) this runs torch.optim on two f32
parameters, "weight" (117 values) and "bias" (13 values: lengths that are not multiples of
the SIMD width), for 20 steps and records:

- the initial parameters (fixed: drawn once from a seeded torch.Generator);
- the gradient fed at each step: g = a ⊙ (p − t) + 0.1·sin(3p + k) at step k, computed in
  f64 from the current f32 parameters and rounded to f32 (a smooth, deterministic
  sequence that depends on the trajectory, like a real loss's gradient);
- the parameters after each step.

test/optim-torch.test.ts replays the recorded gradients through cimm's SGD/Adam/AdamW on
every backend and requires agreement to 1e-6 relative (docs/theory.md, "Optimizers").
Numbers are written with Python's repr of the f32 value widened to f64, which parses back
to the same f32 exactly.

With `--dtype float64` the same problem runs on f64 parameters (initial values, gradients and
trajectories in f64, written with Python's repr, which round-trips every double) for the
configurations in F64_CONFIGS, into test/fixtures/torch-f64/; the test requires agreement to
1e-14 relative there (docs/theory.md, "Float64 parameters").

Not run in CI. To regenerate (the fixtures are committed):

    apt-get install -y python3-torch     # Debian 12: PyTorch 1.13, CPU build
    /usr/bin/python3 scripts/torch-reference.py [--out test/fixtures/torch]
    /usr/bin/python3 scripts/torch-reference.py --dtype float64 [--out test/fixtures/torch-f64]

The issue asks for PyTorch "from PyPI"; its wheel pulls gigabytes of CUDA packages, so
Debian's CPU build of the same library is used instead. The optimizer code that matters
(torch/optim/{sgd,adam,adamw}.py, single-tensor path, the default on CPU in 1.13) is
PyTorch's own.
"""

import argparse
import json
import math
import os
import sys

import torch

STEPS = 20
SHAPES = {"weight": (9, 13), "bias": (13,)}

# (name, torch class, torch kwargs, groups). A group is (parameter names, torch overrides);
# parameters in no group use the kwargs alone.
CONFIGS = [
    ("sgd-plain", "SGD", {"lr": 0.1}, []),
    ("sgd-momentum", "SGD", {"lr": 0.05, "momentum": 0.9}, []),
    ("sgd-dampening", "SGD", {"lr": 0.05, "momentum": 0.9, "dampening": 0.3}, []),
    ("sgd-nesterov", "SGD", {"lr": 0.05, "momentum": 0.9, "nesterov": True}, []),
    ("sgd-weight-decay", "SGD", {"lr": 0.1, "momentum": 0.5, "weight_decay": 0.05}, []),
    ("sgd-maximize", "SGD", {"lr": 0.005, "momentum": 0.5, "maximize": True}, []),
    (
        "sgd-groups",
        "SGD",
        {"lr": 0.05, "momentum": 0.9, "weight_decay": 0.01},
        [(["bias"], {"lr": 0.1, "weight_decay": 0.0, "nesterov": True})],
    ),
    ("adam", "Adam", {"lr": 0.01}, []),
    ("adam-weight-decay", "Adam", {"lr": 0.01, "weight_decay": 0.1}, []),
    ("adam-amsgrad", "Adam", {"lr": 0.01, "amsgrad": True}, []),
    ("adam-betas", "Adam", {"lr": 0.05, "betas": (0.5, 0.9), "eps": 1e-6}, []),
    ("adam-maximize", "Adam", {"lr": 0.01, "maximize": True, "amsgrad": True}, []),
    (
        "adam-groups",
        "Adam",
        {"lr": 0.01, "weight_decay": 0.01},
        [(["bias"], {"lr": 0.05, "weight_decay": 0.0})],
    ),
    ("adamw", "AdamW", {"lr": 0.01, "weight_decay": 0.1}, []),
    ("adamw-amsgrad", "AdamW", {"lr": 0.01, "weight_decay": 0.05, "amsgrad": True}, []),
]

# The configurations the float64 fixtures cover: SGD with momentum, Nesterov and weight decay,
# Adam (with L2 weight decay and AMSGrad), AdamW.
F64_CONFIGS = [
    "sgd-plain",
    "sgd-momentum",
    "sgd-nesterov",
    "sgd-weight-decay",
    "sgd-dampening",
    "adam",
    "adam-weight-decay",
    "adam-amsgrad",
    "adamw",
    "adamw-amsgrad",
]

# torch keyword → cimm option
NAMES = {
    "lr": "learningRate",
    "momentum": "momentum",
    "dampening": "dampening",
    "nesterov": "nesterov",
    "weight_decay": "weightDecay",
    "eps": "epsilon",
    "amsgrad": "amsgrad",
    "maximize": "maximize",
}


def cimm_options(kwargs, names=NAMES):
    """cimm's options for torch-style keyword arguments (`names` maps the keywords)."""
    out = {}
    for k, v in kwargs.items():
        if k == "betas":
            out["beta1"], out["beta2"] = v
        else:
            out[names[k]] = v
    return out


def values(t):
    """The values of an f32 or f64 tensor as Python floats (exact: f32 ⊂ f64)."""
    return [float(x) for x in t.detach().reshape(-1).tolist()]


def problem(dtype):
    """Fixed initial parameters (of `dtype`), targets t and curvatures a (seeded)."""
    gen = torch.Generator().manual_seed(20240611)
    out = {}
    for name, shape in SHAPES.items():
        n = math.prod(shape)
        sign = torch.where(torch.rand(n, generator=gen, dtype=torch.float64) < 0.5, -1.0, 1.0)
        p0 = sign * (0.5 + torch.rand(n, generator=gen, dtype=torch.float64))
        target = sign * (0.5 + torch.rand(n, generator=gen, dtype=torch.float64))
        curvature = 0.2 + 1.8 * torch.rand(n, generator=gen, dtype=torch.float64)
        out[name] = (p0.to(dtype).reshape(shape), target.reshape(shape), curvature.reshape(shape))
    return out


def run(name, kind, kwargs, groups, fixed, dtype):
    params = {k: torch.nn.Parameter(p0.clone()) for k, (p0, _, _) in fixed.items()}
    grouped = {n for names, _ in groups for n in names}
    param_groups = [{"params": [params[k] for k in params if k not in grouped]}]
    for names, overrides in groups:
        param_groups.append({"params": [params[k] for k in names], **overrides})
    opt = getattr(torch.optim, kind)(param_groups, **kwargs)

    initial = {k: values(p) for k, p in params.items()}
    grads, trajectory = [], []
    for step in range(STEPS):
        g_step = {}
        for k, p in params.items():
            _, target, curvature = fixed[k]
            x = p.detach().double()
            g = (curvature * (x - target) + 0.1 * torch.sin(3 * x + step)).to(dtype)
            p.grad = g
            g_step[k] = values(g)
        opt.step()
        grads.append(g_step)
        trajectory.append({k: values(p) for k, p in params.items()})

    config = cimm_options(kwargs)
    config["groups"] = [{"params": names, **cimm_options(overrides)} for names, overrides in groups]
    return {
        "generator": "scripts/torch-reference.py",
        "torch": torch.__version__,
        "name": name,
        "optimizer": kind,
        "dtype": "float64" if dtype == torch.float64 else "float32",
        "torchOptions": {k: list(v) if isinstance(v, tuple) else v for k, v in kwargs.items()},
        "torchGroups": [{"params": names, **overrides} for names, overrides in groups],
        "config": config,
        "steps": STEPS,
        "initial": initial,
        "grads": grads,
        "trajectory": trajectory,
    }


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dtype", choices=["float32", "float64"], default="float32")
    parser.add_argument("--out")
    args = parser.parse_args()
    f64 = args.dtype == "float64"
    out = args.out or os.path.join(here, "..", "test", "fixtures", "torch-f64" if f64 else "torch")
    dtype = torch.float64 if f64 else torch.float32
    torch.set_num_threads(1)
    os.makedirs(out, exist_ok=True)
    fixed = problem(dtype)
    for name, kind, kwargs, groups in CONFIGS:
        if f64 and name not in F64_CONFIGS:
            continue
        data = run(name, kind, kwargs, groups, fixed, dtype)
        path = os.path.join(out, f"{name}.json")
        with open(path, "w") as f:
            json.dump(data, f, separators=(",", ":"))
            f.write("\n")
        print(f"wrote {path}", file=sys.stderr)


if __name__ == "__main__":
    main()
