"""Benchmark ``fdif-core generate``: samples/s with 1 and 2 workers, bytes/sample, peak memory.

Each configuration runs in a fresh process (so peak memory is its own) and writes a real
dataset, files included, into a temporary folder. Usage::

    python benchmarks/bench_generate.py                      # fdif-paper, 96^3, 12 cases
    python benchmarks/bench_generate.py --preset quickstart --num-samples 40 --workers 1 2
    python benchmarks/bench_generate.py --device cuda --workers 2   # on a GPU machine

Steady rate: cases after the first round (one per worker) over the time they took, from the
label files' modification times, so process start-up and imports are left out; the
overall rate includes them. On a shared machine other jobs take cores; "on free cores" is
workers / (CPU seconds per case), the rate that N otherwise idle cores would give.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def one(args: argparse.Namespace) -> None:
    """Child: generate once and print a JSON line of measurements."""
    sys.path.insert(0, str(ROOT))
    from fdif_core import load_preset
    from fdif_core.synthetic.export import generate

    preset = load_preset(args.preset)
    cpu0 = _cpu_seconds()
    with tempfile.TemporaryDirectory(prefix="bench_generate.") as tmp:
        t0 = time.time()
        res = generate(
            preset,
            Path(tmp) / "ds",
            num_samples=args.num_samples,
            num_val=0,
            workers=args.workers[0],
            device=args.device,
            progress=False,
        )
        done = sorted(p.stat().st_mtime for p in (res.root / "labelsTr").iterdir())
    cpu = _cpu_seconds() - cpu0
    w = args.workers[0]
    steady = (len(done) - w) / (done[-1] - done[w - 1]) if len(done) > w else float("nan")
    peak = {
        "self": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
        "children": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss,
    }
    gpu = 0
    if args.device.startswith("cuda"):
        import torch

        gpu = torch.cuda.max_memory_allocated()
    print(
        json.dumps(
            {
                "workers": w,
                "cases": res.cases,
                "seconds": res.seconds,
                "first_case_s": done[0] - t0,
                "rate": res.cases / res.seconds,
                "steady_rate": steady,
                "bytes_per_case": res.bytes / res.cases,
                "cpu_s_per_case": cpu / res.cases,
                "peak_rss_mib": {k: v / 1024 for k, v in peak.items()},
                "gpu_peak_mib": gpu / 2**20,
            }
        )
    )


def _cpu_seconds() -> float:
    """User + system CPU seconds of this process and its finished children."""
    own, kids = (
        resource.getrusage(who) for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)
    )
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--preset", default="fdif-paper")
    p.add_argument("--num-samples", type=int, default=12)
    p.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    p.add_argument("--device", default="cpu")
    p.add_argument("--one", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.one:
        one(args)
        return
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"preset {args.preset}, {args.num_samples} cases, device {args.device}")
    print(f"{os.cpu_count()} CPUs, load average before: {load} (other jobs skew the rates)")
    print(
        "workers  overall/s  steady/s  CPU s/case  on free cores/s  KB/case"
        "  peak RSS MiB (main, largest worker)"
    )
    base = None
    for w in args.workers:
        cmd = [sys.executable, __file__, "--one", "--preset", args.preset]
        cmd += ["--num-samples", str(args.num_samples), "--workers", str(w)]
        cmd += ["--device", args.device]
        out = subprocess.run(cmd, capture_output=True, text=True, check=True, cwd=ROOT)
        r = json.loads(out.stdout.strip().splitlines()[-1])
        base = base or r["steady_rate"]
        rss = r["peak_rss_mib"]
        worker_rss = f"{rss['children']:.0f}" if w > 1 and args.device == "cpu" else "-"
        print(
            f"{w:7d}  {r['rate']:9.2f}  {r['steady_rate']:8.2f}  {r['cpu_s_per_case']:10.2f}"
            f"  {w / r['cpu_s_per_case']:15.2f}  {r['bytes_per_case'] / 1000:7.0f}"
            f"  {rss['self']:.0f}, {worker_rss}"
            f"   (x{r['steady_rate'] / base:.2f} vs {args.workers[0]} worker(s))"
            + (f"  GPU peak {r['gpu_peak_mib']:.0f} MiB" if r["gpu_peak_mib"] else "")
        )
    print(f"load average after: {', '.join(f'{x:.1f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
