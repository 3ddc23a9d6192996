"""Scaled-down comparison on one machine: scratch vs FDIF vs PrimGeoSeg pre-training.

1. Real data: pyradiomics' five labelled scans (2 brain MR, 1 breast MR, 2 lung CT with
   lesion masks), fetched with pip and converted to an nnU-Net dataset (cropped around the
   lesions; see ``fdif_core.real.samples``).
2. Two pre-trainings of the same small U-Net with the same budget and seed:
   ``presets/fdif-small.yaml`` (the 109-class FDIF library, textures as augmentation) and
   ``presets/primgeoseg-small.yaml`` (PrimGeoSeg's 32 flat pillar classes).
3. ``fdif-core compare``: fine-tune from scratch and from each pre-training with
   ``presets/finetune-pyradiomics.yaml`` on each of the 5 folds (4 training cases, 1
   validation case), evaluate, print one Dice table.

Everything lands under ``--out`` and is reused when the script is run again (interrupted
runs continue). Usage::

    python benchmarks/compare_small.py --out runs/compare_small            # about 30 min CPU
    python benchmarks/compare_small.py --pretrain-steps 50 --finetune-steps 50 --folds 0
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))


def pretrained(preset_file: Path, out: Path, steps: int, device: str) -> Path:
    """Pre-train (or reuse) and return the checkpoint."""
    from fdif_core.io.checkpoints import load_checkpoint
    from fdif_core.presets import load_preset
    from fdif_core.training.pretrain import pretrain

    preset = load_preset(preset_file)
    cfg = preset.pretrain.model_copy(
        update={
            "iterations": steps,
            "warmup_steps": min(preset.pretrain.warmup_steps, steps // 5),
            "val_interval": steps,
            "checkpoint_interval": max(1, steps // 4),
        }
    )
    preset = preset.model_copy(update={"pretrain": cfg})
    last = out / "last.pt"
    if last.is_file():
        if int(load_checkpoint(last)["step"]) >= steps:
            print(f"{preset.name}: reusing {last}")
            return last
        t0 = time.perf_counter()
        pretrain(resume=out, device=device, progress=False)
    else:
        t0 = time.perf_counter()
        pretrain(preset, out, device=device, progress=False)
    print(f"{preset.name}: pre-trained {steps} steps in {time.perf_counter() - t0:.0f} s")
    return last


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", default="runs/compare_small", help="work folder")
    p.add_argument("--pretrain-steps", type=int, default=200)
    p.add_argument("--finetune-steps", type=int, default=250)
    p.add_argument("--folds", nargs="+", default=["0", "1", "2", "3", "4"])
    p.add_argument("--device", default="cpu")
    args = p.parse_args(argv)

    import torch

    from fdif_core.presets import load_preset
    from fdif_core.real.samples import pyradiomics_dataset
    from fdif_core.studies.compare import compare, format_compare

    if args.device == "cpu":
        torch.set_num_threads(min(2, torch.get_num_threads()))
    out = Path(args.out)
    dataset = pyradiomics_dataset(out / "data" / "pyradiomics")
    sources = {
        "scratch": None,
        "fdif": str(pretrained(HERE / "presets/fdif-small.yaml", out / "pretrain_fdif",
                               args.pretrain_steps, args.device)),
        "primgeoseg": str(pretrained(HERE / "presets/primgeoseg-small.yaml",
                                     out / "pretrain_primgeoseg", args.pretrain_steps,
                                     args.device)),
    }  # fmt: skip
    ft = load_preset(HERE / "presets/finetune-pyradiomics.yaml")
    steps = args.finetune_steps
    ft = ft.model_copy(
        update={
            "finetune": ft.finetune.model_copy(
                update={"iterations": steps, "warmup_steps": min(10, steps // 5)}
            )
        }
    )
    folds = [int(f) if f.isdigit() else f for f in args.folds]
    t0 = time.perf_counter()
    table = compare(dataset, ft, sources, out / "compare", folds=folds, device=args.device)
    print(f"\nfine-tuning and evaluation: {time.perf_counter() - t0:.0f} s")
    print(
        f"pre-training {args.pretrain_steps} steps, fine-tuning {args.finetune_steps} steps, "
        f"unet_small, seed {ft.seed}, pyradiomics lesions (5 cases, 5 folds)\n"
    )
    print(format_compare(table))
    return 0


if __name__ == "__main__":
    sys.exit(main())
