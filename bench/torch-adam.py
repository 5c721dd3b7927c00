#!/usr/bin/env python3
"""PyTorch's Adam on n = 1e7 f32 parameters, for comparison with cimm's `adamStep` row.

Runs torch.optim.Adam (lr 1e-3, default betas and eps) on one f32 parameter of 10^7 values
with a fixed gradient, in PyTorch's two CPU implementations: the for-loop one
(foreach=False, the CPU default in 1.13) and the multi-tensor one (foreach=True), on one
thread (torch.set_num_threads(1)) unless --threads says otherwise. Prints the median
milliseconds per step over --steps steps after --warmup steps, and, when
bench/results/latest.json holds an `adamStep n=1e7` row (from `npm run bench`), the ratio to
cimm's backends there. That row comes from another process, possibly under another load, and
cimm's native kernels use CIMM_THREADS threads (default: all cores): read the ratio as a
rough guide, not a same-process measurement.

Not run in CI. Needs PyTorch: on Debian 12, `apt-get install -y python3-torch` (1.13, CPU
build; PyPI's wheel pulls gigabytes of CUDA packages). Run:

    /usr/bin/python3 bench/torch-adam.py [--n 10000000] [--steps 20] [--threads 1]
"""

import argparse
import json
import os
import statistics
import time

import torch


def time_adam(n, steps, warmup, foreach):
    gen = torch.Generator().manual_seed(7)
    p = torch.nn.Parameter(torch.rand(n, generator=gen) * 2 - 1)
    p.grad = torch.rand(n, generator=gen) * 2 - 1
    opt = torch.optim.Adam([p], lr=1e-3, foreach=foreach)
    times = []
    with torch.no_grad():
        for k in range(warmup + steps):
            t0 = time.perf_counter()
            opt.step()
            if k >= warmup:
                times.append(time.perf_counter() - t0)
    return 1e3 * statistics.median(times)


def cimm_rows(path):
    try:
        with open(path) as f:
            rows = json.load(f)
    except (OSError, ValueError):
        return {}
    return {r["backend"]: 1e3 / r["hz"] for r in rows if r.get("kernel") == "adamStep" and r.get("size") == "n=1e7"}


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=10_000_000)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--results", default=os.path.join(here, "results", "latest.json"))
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    print(f"PyTorch {torch.__version__} Adam, n = {args.n:.0e} f32, {args.threads} thread(s), "
          f"median of {args.steps} steps, {28 * args.n / 1e6:.0f} MB of parameter/moment traffic per step")
    results = {}
    for foreach in (False, True):
        name = "foreach" if foreach else "for-loop"
        results[name] = time_adam(args.n, args.steps, args.warmup, foreach)
        ms = results[name]
        print(f"  torch {name:9} {ms:8.2f} ms/step  {28 * args.n / ms / 1e6:6.1f} GB/s at 28 B/parameter")

    cimm = cimm_rows(args.results) if args.n == 10_000_000 else {}
    if not cimm:
        print("(no adamStep n=1e7 rows in bench/results/latest.json: run `npm run bench` for the ratios)")
        return
    print(f"cimm adamStep n=1e7 from {os.path.relpath(args.results)} (another process):")
    for backend, ms in sorted(cimm.items(), key=lambda kv: kv[1]):
        ratios = ", ".join(f"{results[k] / ms:.2f}× faster than torch {k}" for k in results)
        print(f"  cimm {backend:9} {ms:8.2f} ms/step  ({ratios})")


if __name__ == "__main__":
    main()
