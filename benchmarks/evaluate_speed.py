"""Evaluation of one full-size CT case: the streamed path against the former MONAI path.

    python benchmarks/evaluate_speed.py                       # 512 x 512 x 133, 13 organs
    python benchmarks/evaluate_speed.py --baseline-classes 3  # MONAI NSD on 3 classes, x 13/3
    python benchmarks/evaluate_speed.py --depth 300 --no-baseline   # memory at 300 slices
    python benchmarks/evaluate_speed.py --depth 300 --predict       # Predictor.predict end to end
    python benchmarks/evaluate_speed.py --speckle 0.5 --baseline-classes 2   # heavy noise
    python benchmarks/evaluate_speed.py --writer-baseline e467eca --no-baseline  # the writer
    python benchmarks/evaluate_speed.py --spacing 0.9 0.9 3 --plan-spacing 0.7 0.7 2.5 --depth 100

Writes a synthetic CT (``fdif_core.real.phantom``: 13 organ-sized classes, 0.7 x 0.7 x 2.5 mm)
and a noisy prediction of it (ragged boundaries, 1 % speckles by default; ``--speckle 0.5``
gives a prediction whose boundary voxels are about as many as those of the networks measured
after 4 fine-tuning steps on this phantom, 37 to 84 % of all voxels), preprocesses both as
evaluation does (RAS, 1.5 x 1.5 x 2.5 mm), turns the preprocessed prediction into 14-channel
softmax probabilities (standing in for the network, not timed) and times, in one child process
per path so that each peak RSS is its own:

- **new**: probabilities streamed in slabs into ``ArgmaxWriter`` (inverse resampling and
  argmax fused), ``dice_scores``, ``surface_dice``, NIfTI writing;
- **monai** (the former ``evaluate``): full probabilities -> ``Invertd`` -> argmax ->
  ``DiceMetric`` -> ``SurfaceDiceMetric`` once per tolerance -> NIfTI writing.

``--writer-baseline REV`` also times the ``ArgmaxWriter`` of git revision ``REV`` (its
``inverse.py``) on the same slabs, alternating with the current one slab by slab, and prints
the ratio and the agreement of the two label maps. ``--spacing`` / ``--plan-spacing`` set the
case's and the plan's spacing (``0.9 0.9 3`` / ``0.7 0.7 2.5`` at ``--depth 100``: the
geometry of the full-size study's fold-1 case, 658 x 658 x 120 preprocessed voxels before the
foreground crop).

Prints the stage table, the speed ratio, the peak RSS of each, the agreement of the two label
maps and the largest metric difference, and the load average (the machine may be shared).
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
import warnings
from pathlib import Path

import numpy as np

SPACING = (0.7, 0.7, 2.5)
PLAN_SPACING = (1.5, 1.5, 2.5)
BASELINE_WRITER = ""  # git revision whose ArgmaxWriter is timed beside the current one
TOLERANCES = (1.0, 2.0)
SLAB = 16


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _prepare(data: Path):
    """The preprocessed case and a slab generator of 14-channel probabilities."""
    import torch

    from fdif_core.real.phantom import PHANTOM_LABELS
    from fdif_core.real.preprocess import Plan, preprocess_case, preprocess_transforms

    plan = Plan(PLAN_SPACING, "none", crop_foreground=True, channels=["CT"],
                labels=PHANTOM_LABELS)  # fmt: skip
    t = preprocess_transforms(plan, label=True)
    d = preprocess_case(t, {"image": str(data / "image.nii.gz"), "label": str(data / "pred.nii.gz"),
                            "case": "ct"})  # fmt: skip
    lab = torch.as_tensor(np.asarray(d["label"][0]), dtype=torch.int64)
    n = len(PHANTOM_LABELS)

    def probs(a: int, b: int) -> torch.Tensor:
        onehot = torch.nn.functional.one_hot(lab[..., a:b], n).permute(3, 0, 1, 2).float()
        return torch.softmax(4 * onehot.contiguous(), 0)  # contiguous, as sliding_chunks yields

    return t, d, lab.shape, probs, n


def _writer_at(rev: str):
    """``ArgmaxWriter`` as it is in git revision ``rev`` (its ``inverse.py``, loaded aside)."""
    import importlib.util

    root = Path(__file__).resolve().parents[1]
    show = ["git", "-C", str(root), "show", f"{rev}:fdif_core/evaluation/inverse.py"]
    text = subprocess.run(show, capture_output=True, text=True, check=True).stdout
    path = Path(tempfile.mkdtemp(prefix="fdif_writer_")) / "inverse_baseline.py"
    path.write_text(text)
    spec = importlib.util.spec_from_file_location("inverse_baseline", path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules["inverse_baseline"] = mod
    spec.loader.exec_module(mod)
    return mod.ArgmaxWriter


def run_new(data: Path) -> dict:
    from fdif_core.evaluation.evaluate import load_reference
    from fdif_core.evaluation.inverse import ArgmaxWriter
    from fdif_core.evaluation.surface import dice_scores, surface_dice
    from fdif_core.io.nifti import write_nifti

    _t, d, shape, probs, n = _prepare(data)
    ref, _aff, spacing = load_reference(str(data / "label.nii.gz"))
    ref = ref.astype(np.uint8)
    image = d["image"]
    out_aff = np.asarray(image.meta["original_affine"], np.float64)
    del d
    times: dict[str, float] = {}
    args = (tuple(shape), np.asarray(image.affine), tuple(ref.shape), out_aff)
    w = ArgmaxWriter(*args)
    old = _writer_at(BASELINE_WRITER)(*args) if BASELINE_WRITER else None
    spent = {id(w): 0.0, id(old): 0.0}
    for i, a in enumerate(range(0, shape[-1], SLAB)):
        p = probs(a, min(a + SLAB, shape[-1]))
        for writer in (w, old) if i % 2 else (old, w):  # alternating which goes first
            if writer is not None:
                t0 = time.perf_counter()
                writer.add(a, p)
                spent[id(writer)] += time.perf_counter() - t0
    label = w.result()
    times["inverse resampling + argmax"] = spent[id(w)]
    extra = {"preprocessed_shape": list(shape)}
    if old is not None:
        base = old.result()
        extra |= {"writer_baseline_s": spent[id(old)],
                  "writer_differ": int(np.count_nonzero(base != label))}  # fmt: skip
    t0 = time.perf_counter()
    dice = dice_scores(label, ref, n)
    times["Dice"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    nsd = surface_dice(label, ref, n, spacing, TOLERANCES)
    times["surface Dice"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    write_nifti(data / "out_new.nii.gz", label, out_aff)
    times["NIfTI writing"] = time.perf_counter() - t0
    np.save(data / "label_new.npy", label)
    return {"times": times, "dice": dice.tolist(), "nsd": nsd.tolist(), "peak_mb": _rss_mb(),
            **extra}  # fmt: skip


def run_monai(data: Path, classes: int) -> dict:
    import torch
    from monai.data import MetaTensor
    from monai.metrics import DiceMetric, SurfaceDiceMetric
    from monai.networks.utils import one_hot
    from monai.transforms import Invertd

    from fdif_core.evaluation.evaluate import load_reference
    from fdif_core.io.nifti import write_nifti
    from fdif_core.real.preprocess import tracking_meta

    t, d, shape, probs, n = _prepare(data)
    ref, _aff, spacing = load_reference(str(data / "label.nii.gz"))
    ref = ref.astype(np.uint8)
    full = torch.cat([probs(a, min(a + SLAB, shape[-1])) for a in range(0, shape[-1], SLAB)], -1)
    times: dict[str, float] = {}
    with tracking_meta():
        t0 = time.perf_counter()
        d["pred"] = MetaTensor(full, meta=d["image"].meta)
        d["pred"].applied_operations = list(d["image"].applied_operations)
        del full
        inv = Invertd("pred", t, orig_keys="image", nearest_interp=False)(d)["pred"]
        times["inverse resampling"] = time.perf_counter() - t0
    del d
    t0 = time.perf_counter()
    label = torch.argmax(inv.as_tensor(), 0).numpy().astype(np.uint8)
    out_aff = np.asarray(inv.affine, np.float64)
    del inv
    times["argmax"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    p1 = one_hot(torch.as_tensor(label, dtype=torch.int64)[None, None], n)
    r1 = one_hot(torch.as_tensor(ref.astype(np.int64))[None, None], n)
    dice = DiceMetric(include_background=False, reduction="none", ignore_empty=True)(p1, r1)
    times["Dice"] = time.perf_counter() - t0
    k = min(classes, n - 1)
    t0 = time.perf_counter()
    nsd = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for tol in TOLERANCES:
            m = SurfaceDiceMetric([tol] * k, include_background=False, reduction="none")
            nsd.append(m(p1[:, : k + 1], r1[:, : k + 1], spacing=list(spacing))[0].tolist())
    measured = time.perf_counter() - t0
    times["surface Dice"] = measured * (n - 1) / k
    t0 = time.perf_counter()
    write_nifti(data / "out_monai.nii.gz", label, out_aff)
    times["NIfTI writing"] = time.perf_counter() - t0
    np.save(data / "label_monai.npy", label)
    return {"times": times, "dice": dice[0].tolist(), "nsd": nsd, "peak_mb": _rss_mb(),
            "nsd_classes": k, "nsd_measured_s": measured}  # fmt: skip


def run_predict(data: Path, depth: int) -> dict:
    """``Predictor.predict`` end to end on a full-size CT at the original spacing (the
    largest preprocessed grid): MONAI preprocessing, streamed sliding window of a 1x1x1
    convolution with 14 outputs (a stand-in network), inverse mapping and argmax."""
    import torch

    from fdif_core.evaluation.evaluate import Predictor
    from fdif_core.real.phantom import PHANTOM_LABELS
    from fdif_core.real.preprocess import Plan

    plan = Plan(SPACING, "window", clip=(-175.0, 250.0), crop_foreground=False,
                channels=["CT"], labels=PHANTOM_LABELS)  # fmt: skip
    torch.manual_seed(0)
    net = torch.nn.Conv3d(1, len(PHANTOM_LABELS), 1)
    pred = Predictor(net, plan, (96, 96, 96), overlap=0.5, sw_batch_size=2)
    t0 = time.perf_counter()
    label, _ = pred.predict({"image": str(data / "image.nii.gz"), "case": "ct"})
    return {"times": {f"predict 512 x 512 x {depth}": time.perf_counter() - t0},
            "shape": list(label.shape), "peak_mb": _rss_mb()}  # fmt: skip


def _edge_fraction(label: np.ndarray) -> float:
    """Share of all voxels that lie on the boundary of a foreground class."""
    from fdif_core.evaluation.surface import boundary

    return float(np.count_nonzero(boundary(label) & (label > 0)) / label.size)


def _child(stage: str, data: Path, classes: int, depth: int = 133) -> dict:
    cmd = [sys.executable, __file__, "--stage", stage, "--data", str(data),
           "--baseline-classes", str(classes), "--depth", str(depth),
           "--spacing", *map(str, SPACING), "--plan-spacing", *map(str, PLAN_SPACING),
           "--writer-baseline", BASELINE_WRITER]  # fmt: skip
    out = subprocess.run(cmd, capture_output=True, text=True)
    if out.returncode:
        sys.exit(f"{stage} path failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    global SPACING, PLAN_SPACING, BASELINE_WRITER
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--depth", type=int, default=133, help="slices (512 x 512 x depth)")
    ap.add_argument(
        "--baseline-classes",
        type=int,
        default=13,
        help="classes MONAI's surface Dice is timed on (extrapolated to 13)",
    )
    ap.add_argument(
        "--speckle",
        type=float,
        default=0.01,
        help="share of voxels of the prediction set to a random class (default 0.01)",
    )
    ap.add_argument("--no-baseline", action="store_true", help="time the new path only")
    ap.add_argument("--writer-baseline", default="", metavar="REV",
                    help="also time the ArgmaxWriter of git revision REV, same slabs")  # fmt: skip
    ap.add_argument("--spacing", type=float, nargs=3, default=SPACING, metavar="MM",
                    help="the case's spacing in mm (default 0.7 0.7 2.5)")  # fmt: skip
    ap.add_argument("--plan-spacing", type=float, nargs=3, default=PLAN_SPACING, metavar="MM",
                    help="the plan's spacing in mm (default 1.5 1.5 2.5)")  # fmt: skip
    ap.add_argument("--predict", action="store_true",
                    help="instead: Predictor.predict end to end (stand-in network, 14 outputs, "
                    "no resampling), time and peak RSS")  # fmt: skip
    ap.add_argument("--stage", choices=["new", "monai", "predict"], help=argparse.SUPPRESS)
    ap.add_argument("--data", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()
    SPACING, PLAN_SPACING = tuple(args.spacing), tuple(args.plan_spacing)
    BASELINE_WRITER = args.writer_baseline
    if args.stage == "predict":
        print(json.dumps(run_predict(args.data, args.depth)))
        return
    if args.stage:
        k = args.baseline_classes
        print(json.dumps(run_new(args.data) if args.stage == "new" else run_monai(args.data, k)))
        return
    from fdif_core.io.nifti import write_nifti
    from fdif_core.real.phantom import noisy_prediction, phantom_affine, phantom_case

    with tempfile.TemporaryDirectory(prefix="fdif_eval_speed_") as tmp:
        data = Path(tmp)
        t0 = time.perf_counter()
        image, label = phantom_case((512, 512, args.depth), SPACING, seed=0)
        aff = phantom_affine(SPACING)
        write_nifti(data / "image.nii.gz", image, aff)
        write_nifti(data / "label.nii.gz", label, aff)
        write_nifti(
            data / "pred.nii.gz", noisy_prediction(label, seed=1, speckle=args.speckle), aff
        )
        del image, label
        print(f"case 512 x 512 x {args.depth} at {SPACING} mm (plan {PLAN_SPACING} mm), "
              "13 classes, noisy prediction "
              f"({100 * args.speckle:g} % speckles) written in "
              f"{time.perf_counter() - t0:.0f} s")  # fmt: skip
        if args.predict:
            doc = _child("predict", data, args.baseline_classes, args.depth)
            print(f"{next(iter(doc['times']))}: {next(iter(doc['times'].values())):.1f} s, "
                  f"peak RSS {doc['peak_mb']:.0f} MB, label {doc['shape']}")  # fmt: skip
            print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
            return
        new = _child("new", data, args.baseline_classes)
        base = None if args.no_baseline else _child("monai", data, args.baseline_classes)
        _report(new, base, data)


def _report(new: dict, base: dict | None, data: Path) -> None:
    stages = ["inverse resampling", "argmax", "inverse resampling + argmax", "Dice",
              "surface Dice", "NIfTI writing"]  # fmt: skip
    print(f"\n{'stage':<28} {'new (s)':>9} {'MONAI (s)':>10}")
    for s in stages:
        a = new["times"].get(s)
        b = base["times"].get(s) if base else None
        if a is None and b is None:
            continue
        print(
            f"{s:<28} {'' if a is None else f'{a:9.1f}':>9} {'' if b is None else f'{b:10.1f}':>10}"
        )
    tn = sum(new["times"].values())
    print(
        f"{'whole case':<28} {tn:9.1f} " + (f"{sum(base['times'].values()):10.1f}" if base else "")
    )
    print(
        f"{'peak RSS (MB)':<28} {new['peak_mb']:9.0f} "
        + (f"{base['peak_mb']:10.0f}" if base else "")
    )
    a = np.load(data / "label_new.npy")
    print(f"preprocessed grid {' x '.join(map(str, new['preprocessed_shape']))}")
    if "writer_baseline_s" in new:
        t_old, t_new = new["writer_baseline_s"], new["times"]["inverse resampling + argmax"]
        print(f"inverse resampling + argmax: {t_new:.2f} s, writer of {BASELINE_WRITER} "
              f"{t_old:.2f} s on the same slabs (alternating): {t_old / t_new:.2f}x; label maps "
              f"differ on {new['writer_differ']} of {a.size} voxels")  # fmt: skip
    print(f"boundary voxels of the predicted label map: {100 * _edge_fraction(a):.1f} % of voxels")
    if base:
        tb = sum(base["times"].values())
        if base["nsd_classes"] < 12:
            print(f"MONAI surface Dice measured on {base['nsd_classes']} of 13 classes in "
                  f"{base['nsd_measured_s']:.1f} s and scaled by 13/{base['nsd_classes']} "
                  "(classes differ in size: an estimate)")  # fmt: skip
        print(f"speed-up: {tb / tn:.1f}x (whole case), surface Dice "
              f"{base['times']['surface Dice'] / new['times']['surface Dice']:.1f}x")  # fmt: skip
        b = np.load(data / "label_monai.npy")
        diff = int(np.count_nonzero(a != b))
        print(f"label maps agree on {100 * (1 - diff / a.size):.4f} % of voxels ({diff} differ)")
        dd = np.nanmax(np.abs(np.subtract(new["dice"], base["dice"])))
        k = base["nsd_classes"]
        nd = np.nanmax(np.abs(np.asarray(new["nsd"])[:, :k] - np.asarray(base["nsd"])))
        print(f"largest difference: Dice {dd:.2e}, surface Dice {nd:.2e} (first {k} classes)")
        _same_map(b, base, data)
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")


def _same_map(label: np.ndarray, base: dict, data: Path) -> None:
    """The new metrics on MONAI's label map against MONAI's metrics (implementation only)."""
    from fdif_core.evaluation.evaluate import load_reference
    from fdif_core.evaluation.surface import dice_scores, surface_dice

    ref, _aff, spacing = load_reference(str(data / "label.nii.gz"))
    ref, n, k = ref.astype(np.uint8), 14, base["nsd_classes"]
    dd = np.nanmax(np.abs(dice_scores(label, ref, n) - np.asarray(base["dice"])))
    nsd = surface_dice(label, ref, n, spacing, TOLERANCES)[:, :k]
    nd = np.nanmax(np.abs(nsd - np.asarray(base["nsd"])))
    print(f"on MONAI's label map: Dice {dd:.2e}, surface Dice {nd:.2e}")


if __name__ == "__main__":
    main()
