"""Benchmark ``fdif-core match``: the texture fit against the histogram-only fit, same region.

A liver-like region (band-passed noise, 0.8 x 0.8 x 1.5 mm voxels) of each edge is fitted
``--repeats`` times by the histogram-only fit (the baseline: what the studio's Match did)
and by the full fit (texture search, mapper, both distances); the script prints CPU
seconds (process time: other jobs on a shared machine do not count) and their ratio, with
the load average beside them. Usage::

    python benchmarks/bench_match.py                 # edges 24, 40, 64
    python benchmarks/bench_match.py --edges 40 --repeats 3
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import numpy as np
import torch
from scipy import ndimage

from fdif_core.matching import Frame, fit_region, region_from_array
from fdif_core.matching.fit import _histogram_only

SPACING = (0.8, 0.8, 1.5)


def liver(edge: int) -> np.ndarray:
    n = np.random.default_rng(0).standard_normal((edge,) * 3)
    band = ndimage.gaussian_filter(n, [1.0 / s for s in SPACING]) - ndimage.gaussian_filter(
        n, [2.5 / s for s in SPACING]
    )
    return (band - band.mean()) / band.std() * 12.0 + 43.0


def cpu_seconds(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t = time.process_time()
        fn()
        times.append(time.process_time() - t)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--edges", type=int, nargs="+", default=[24, 40, 64])
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    torch.set_num_threads(1)
    frame = Frame()
    print(f"load average {os.getloadavg()[0]:.1f}; CPU seconds, median of {args.repeats}")
    print("edge  voxels   histogram-only  texture fit  ratio")
    for edge in args.edges:
        region = region_from_array(liver(edge), np.ones((edge,) * 3, bool), SPACING)
        base = cpu_seconds(lambda r=region: _histogram_only(r, frame), args.repeats)
        full = cpu_seconds(lambda r=region: fit_region(r, frame, seed=0), args.repeats)
        print(f"{edge:4d}  {edge**3:7d}  {base:14.2f}  {full:11.2f}  {full / base:5.1f}")
    print(f"load average {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
