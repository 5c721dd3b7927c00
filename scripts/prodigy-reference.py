#!/usr/bin/env python3
"""prodigyopt reference trajectories for cimm's Prodigy (test/fixtures/prodigy/*.json).

For each configuration below (defaults; decoupled weight decay; coupled weight decay;
d_coef 0.5; safeguard_warmup with use_bias_correction; a growth-rate cap with beta3 set)
this runs prodigyopt.Prodigy 1.1.2 (Mishchenko & Defazio 2023, the authors' package) on
the same problem as scripts/torch-reference.py: two f32 parameters, "weight" (117 values)
and "bias" (13 values), for 30 steps, and records:

- the initial parameters (fixed: drawn once from a seeded torch.Generator);
- the gradient fed at each step: g = a ⊙ (p − t) + 0.1·sin(3p + k) at step k, computed in
  f64 from the current f32 parameters and rounded to f32;
- the parameters after each step, and prodigyopt's d after each step.

test/optim-prodigy.test.ts replays the recorded gradients through cimm's Prodigy on every
backend (docs/theory.md, "Prodigy", gives the tolerance and why). Numbers are Python's
repr of the f32 value widened to f64, which parses back to the same f32 exactly.

Not run in CI. To regenerate (the fixtures are committed):

    apt-get install -y python3-torch              # Debian 12: PyTorch 1.13, CPU build
    pip install --no-deps prodigyopt==1.1.2       # pure Python; --no-deps keeps Debian's torch
    /usr/bin/python3 scripts/prodigy-reference.py [--out test/fixtures/prodigy]
"""

import argparse
import importlib.metadata
import json
import os
import sys

import torch
from prodigyopt import Prodigy

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
torch_reference = __import__("torch-reference")

STEPS = 30

# (name, prodigyopt kwargs)
CONFIGS = [
    ("prodigy", {}),
    ("prodigy-weight-decay", {"weight_decay": 0.1}),
    ("prodigy-coupled-decay", {"weight_decay": 0.05, "decouple": False}),
    ("prodigy-d-coef", {"d_coef": 0.5}),
    ("prodigy-safeguard-bias", {"safeguard_warmup": True, "use_bias_correction": True}),
    ("prodigy-growth", {"growth_rate": 1.5, "beta3": 0.9, "betas": (0.8, 0.99), "lr": 0.5}),
]

NAMES = {
    "lr": "learningRate",
    "beta3": "beta3",
    "eps": "epsilon",
    "weight_decay": "weightDecay",
    "decouple": "decouple",
    "use_bias_correction": "useBiasCorrection",
    "safeguard_warmup": "safeguardWarmup",
    "d0": "d0",
    "d_coef": "dCoef",
    "growth_rate": "growthRate",
}


def run(name, kwargs, fixed):
    params = {k: torch.nn.Parameter(p0.clone()) for k, (p0, _, _) in fixed.items()}
    opt = Prodigy(list(params.values()), **kwargs)
    initial = {k: torch_reference.values(p) for k, p in params.items()}
    grads, trajectory, ds = [], [], []
    for step in range(STEPS):
        g_step = {}
        for k, p in params.items():
            _, target, curvature = fixed[k]
            x = p.detach().double()
            g = (curvature * (x - target) + 0.1 * torch.sin(3 * x + step)).float()
            p.grad = g
            g_step[k] = torch_reference.values(g)
        opt.step()
        grads.append(g_step)
        trajectory.append({k: torch_reference.values(p) for k, p in params.items()})
        ds.append(float(opt.param_groups[0]["d"]))
    config = torch_reference.cimm_options(kwargs, NAMES)
    config["groups"] = []
    return {
        "generator": "scripts/prodigy-reference.py",
        "torch": torch.__version__,
        "prodigyopt": importlib.metadata.version("prodigyopt"),
        "name": name,
        "optimizer": "Prodigy",
        "prodigyOptions": {k: list(v) if isinstance(v, tuple) else v for k, v in kwargs.items()},
        "config": config,
        "steps": STEPS,
        "initial": initial,
        "grads": grads,
        "trajectory": trajectory,
        "d": ds,
    }


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", default=os.path.join(here, "..", "test", "fixtures", "prodigy"))
    args = parser.parse_args()
    torch.set_num_threads(1)
    os.makedirs(args.out, exist_ok=True)
    fixed = torch_reference.problem()
    for name, kwargs in CONFIGS:
        data = run(name, kwargs, fixed)
        path = os.path.join(args.out, f"{name}.json")
        with open(path, "w") as f:
            json.dump(data, f, separators=(",", ":"))
            f.write("\n")
        print(f"wrote {path}", file=sys.stderr)


if __name__ == "__main__":
    main()
