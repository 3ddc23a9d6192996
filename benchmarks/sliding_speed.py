"""Full-size sliding-window inference on the CPU: the streamed window against MONAI's.

    python benchmarks/sliding_speed.py                      # 448 x 448 x 66, unet_small, 14 classes
    python benchmarks/sliding_speed.py --depth 34 --batch 1 4 8
    python benchmarks/sliding_speed.py --stub               # bookkeeping only (no network)

One preprocessed-size image (the 512 x 512 x 133 phantom at 0.7 x 0.7 x 2.5 mm comes out of
``finetune/quick``'s preprocessing at about 448 x 448 x 66), the study's network
(``unet_small``, 32³ windows, 14 output channels), overlap 0.5, Gaussian blending. Each path
runs in its own child process (its own peak RSS), one after the other, for every
``--batch`` (windows per forward pass):

- **streamed**: ``fdif_core.evaluation.sliding.sliding_chunks`` with ``Predictor.forward``
  (what evaluation runs), slabs consumed as they arrive;
- **monai**: ``monai.inferers.sliding_window_inference`` (the whole logit volume at once),
  under ``torch.inference_mode`` (as ``Predictor.forward``).

``--stub`` replaces the network by a constant (the time left is the windows' bookkeeping);
``--group-norms`` computes both paths' instance norms as group norms (as ``evaluate`` does on
the CPU).
Prints wall and CPU seconds (CPU time is the steadier figure on a shared machine), windows/s,
the speed ratio streamed / monai, each peak RSS, the largest logit difference
of the two paths and the load average (the machine may be shared: compare ratios only).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time

CLASSES = 14
ROI = (32, 32, 32)


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _cpu_s() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def _child(path: str, shape: tuple[int, int, int], batch: int, stub: bool, threads: int) -> dict:
    import torch

    from fdif_core.evaluation.evaluate import Predictor
    from fdif_core.networks import build_network
    from fdif_core.real.preprocess import Plan

    if threads:
        torch.set_num_threads(threads)
    torch.manual_seed(0)
    model = build_network("unet_small", CLASSES, ROI).eval()
    if os.environ.get("SLIDING_GROUP_NORMS") == "1":  # as evaluate_checkpoint on the CPU
        from fdif_core.evaluation.norms import instance_norms_as_group_norms

        instance_norms_as_group_norms(model)
    plan = Plan((1.5, 1.5, 2.5), "none", crop_foreground=True, channels=["CT"],
                labels=["background", *(f"c{i}" for i in range(1, CLASSES))])  # fmt: skip
    pred = Predictor(model, plan, ROI, 0.5, batch)
    image = torch.randn(1, *shape, generator=torch.Generator().manual_seed(0))
    fwd = pred.forward
    if stub:

        def fwd(x: torch.Tensor) -> torch.Tensor:
            return x[:, :1].expand(-1, CLASSES, -1, -1, -1) * 1.0

    base = _rss_mb()
    probe = (slice(None), slice(200, 232), slice(200, 232), slice(20, 40))
    t0, c0 = time.perf_counter(), _cpu_s()
    if path == "streamed":
        from fdif_core.evaluation.sliding import sliding_chunks

        parts = {}
        for start, logits in sliding_chunks(image, fwd, ROI, overlap=0.5, sw_batch_size=batch):
            for z in range(start, start + logits.shape[-1]):
                if 20 <= z < 40:
                    parts[z] = logits[:, 200:232, 200:232, z - start].clone()
        sample = torch.stack([parts[z] for z in range(20, 40)], -1)
    else:
        from monai.inferers import sliding_window_inference

        with torch.inference_mode():
            out = sliding_window_inference(image[None], ROI, batch, fwd, overlap=0.5,
                                           mode="gaussian", padding_mode="constant")  # fmt: skip
        sample = out[0][probe].clone()
    wall, cpu = time.perf_counter() - t0, _cpu_s() - c0
    torch.save(sample, os.environ["SLIDING_SAMPLE"])
    return {"wall_s": wall, "cpu_s": cpu, "peak_mb": _rss_mb(), "base_mb": base}


def _windows(shape: tuple[int, int, int]) -> int:
    from monai.data.utils import dense_patch_slices
    from monai.inferers.utils import _get_scan_interval

    size = tuple(max(s, r) for s, r in zip(shape, ROI, strict=True))
    return len(dense_patch_slices(size, ROI, _get_scan_interval(size, ROI, 3, (0.5,) * 3)))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--depth", type=int, default=66)
    ap.add_argument("--size", type=int, default=448)
    ap.add_argument("--batch", type=int, nargs="+", default=[2, 4])
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    ap.add_argument("--stub", action="store_true", help="a constant instead of the network")
    ap.add_argument(
        "--group-norms", action="store_true", help="both paths: instance norms as group norms"
    )
    ap.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = ap.parse_args()
    shape = (args.size, args.size, args.depth)
    if args.child:
        doc = _child(args.child[0], shape, int(args.child[1]), args.stub, args.threads)
        print(json.dumps(doc))
        return
    import tempfile

    import torch

    n = _windows(shape)
    what = "constant stub" if args.stub else "unet_small"
    print(f"image 1 x {shape[0]} x {shape[1]} x {shape[2]}, {n} windows of 32³ at overlap 0.5, "
          f"{what}, load {os.getloadavg()[0]:.2f}")  # fmt: skip
    print(f"{'batch':>5} {'path':>9} {'wall s':>8} {'CPU s':>7} {'win/s':>7} {'peak MB':>8} "
          f"{'+MB':>6}")  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        for b in args.batch:
            row = {}
            for path in ("streamed", "monai"):
                env = {**os.environ, "SLIDING_SAMPLE": f"{tmp}/{path}.pt",
                       "SLIDING_GROUP_NORMS": "1" if args.group_norms else "0"}  # fmt: skip
                cmd = [
                    sys.executable,
                    __file__,
                    "--child",
                    path,
                    str(b),
                    "--depth",
                    str(args.depth),
                    "--size",
                    str(args.size),
                    "--threads",
                    str(args.threads),
                ]
                cmd += ["--stub"] if args.stub else []
                out = subprocess.run(cmd, env=env, check=True, capture_output=True, text=True)
                row[path] = r = json.loads(out.stdout.strip().splitlines()[-1])
                print(f"{b:>5} {path:>9} {r['wall_s']:8.1f} {r['cpu_s']:7.1f} "
                      f"{n / r['wall_s']:7.1f} "
                      f"{r['peak_mb']:8.0f} {r['peak_mb'] - r['base_mb']:6.0f}")  # fmt: skip
            diff = (torch.load(f"{tmp}/streamed.pt") - torch.load(f"{tmp}/monai.pt")).abs().max()
            ratio = row["monai"]["wall_s"] / row["streamed"]["wall_s"]
            cpu = row["monai"]["cpu_s"] / row["streamed"]["cpu_s"]
            print(f"      streamed is {ratio:.2f}x the speed of monai (CPU time {cpu:.2f}x); "
                  "max |logit diff| "
                  f"{float(diff):.2e}; load {os.getloadavg()[0]:.2f}")  # fmt: skip


if __name__ == "__main__":
    main()
