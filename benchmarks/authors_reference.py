"""Measure the authors' released FDIF generator; its statistics go into a JSON file in this repo.

Runs in the authors' own environment (their code is not part of this project and is not
vendored): a local checkout of github.com/yamanoko/FDIF (the paper's numbers were made at
commit 81c17f1) and a Python with torch, numpy, nibabel and plotly::

    python3 -m venv /tmp/authors-venv
    /tmp/authors-venv/bin/pip install torch numpy nibabel plotly
    /tmp/authors-venv/bin/python benchmarks/authors_reference.py /path/to/FDIF \\
        --out benchmarks/reference/authors_stats.json

It records, with one thread and a fixed seed:
- per class, the inside-voxel counts of single objects drawn by the class's own sampler,
  centred, posed (rotation and shear, as in their generator), without displacement, on their
  96^3 grid (``benchmarks/fidelity.py`` compares medians per family);
- whole-volume statistics of the paper configuration (20 objects, all 109 classes, the 10
  mappers and 9 displacements as augmentation), built by their own dataset class.

``--speed N`` instead prints the process CPU seconds per paper volume (``fidelity.py`` runs it
beside this project's engine, so the ratio comes from one run on one machine).
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import time
import warnings
from collections import Counter
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from fidelity_stats import draws_per_class, family, project_name, volume_stats

# The paper configuration, as the authors' README runs it.
MAPPERS = [
    "exponential_base_1.5",
    "exponential_base_2.0",
    "floor_width_0.5",
    "floor_width_1.0",
    "inverse_cube",
    "linear_slope_10.0",
    "modular_10",
    "modular_5",
    "sinusoidal_wavelength_1.0",
    "sinusoidal_wavelength_3.0",
]
DISPLACEMENTS = [
    "perlin_more_fine",
    "perlin_fine",
    "turbulence",
    "ridge",
    "ridge_coarse",
    "sharpmax",
    "sharpmax_fine",
    "twisted_x",
    "sawtooth",
]
GRID = [96, 96, 96]


def _dataset(checkout: Path, volumes: int):
    sys.path.insert(0, str(checkout / "src"))
    warnings.filterwarnings("ignore")
    from fdslxsdf4seg.generate_sdf_dataset import SDFSegmentationDataset
    from fdslxsdf4seg.primitive_registry import DEFAULT_PRIMITIVES

    return SDFSegmentationDataset(
        grid_size=GRID,
        num_volumes=volumes,
        min_objects=20,
        max_objects=20,
        device=torch.device("cpu"),
        primitives=list(DEFAULT_PRIMITIVES),
        transform=True,
        sdf_mappers=MAPPERS,
        displacement_functions=DISPLACEMENTS,
        mapper_as_augmentation=True,
        displacement_as_augmentation=True,
    )


def single_objects(ds, minimum: int) -> dict[str, list[int]]:
    """Inside-voxel counts of centred, undisplaced single objects, per class (our names)."""
    classes = {
        project_name(h.primitive_class.__name__): h.primitive_class
        for h in ds.primitive_classes.values()
    }
    sizes = Counter(family(n) for n in classes)
    out: dict[str, list[int]] = {}
    for name, cls in sorted(classes.items()):
        counts = []
        for _ in range(draws_per_class(sizes[family(name)], minimum)):
            obj = cls(
                grid_size=GRID, device=torch.device("cpu"), center=[0.0, 0.0, 0.0], transform=True
            )
            counts.append(int((obj.sdf(ds.X, ds.Y, ds.Z) <= 0).sum()))
        out[name] = counts
        print(f"{name}: median {int(np.median(counts))}", file=sys.stderr, flush=True)
    return out


def commit_of(checkout: Path) -> str:
    try:
        return subprocess.run(
            ["git", "-C", str(checkout), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("checkout", type=Path, help="local checkout of the authors' FDIF repository")
    ap.add_argument(
        "--out", type=Path, default=Path(__file__).parent / "reference" / "authors_stats.json"
    )
    ap.add_argument("--draws", type=int, default=40, help="minimum single-object draws per class")
    ap.add_argument("--volumes", type=int, default=40)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--speed", type=int, default=0, help="only time N paper volumes (CPU s/volume)")
    ap.add_argument("--commit", default=None, help="record this commit (default: git rev-parse)")
    args = ap.parse_args()
    torch.set_num_threads(1)
    random.seed(args.seed)
    torch.manual_seed(args.seed)
    ds = _dataset(args.checkout, max(args.volumes, args.speed + 1))
    if args.speed:
        ds[0]  # warm-up
        cpu = time.process_time()
        for i in range(args.speed):
            ds[i + 1]
        print(json.dumps({"cpu_s_per_volume": (time.process_time() - cpu) / args.speed}))
        return
    objects = single_objects(ds, args.draws)
    volumes = []
    for i in range(args.volumes):
        x, y = ds[i]
        volumes.append(volume_stats(x, y))
        print(f"volume {i}: {volumes[-1]['labels_visible']} labels", file=sys.stderr, flush=True)
    result = {
        "source": "github.com/yamanoko/FDIF",
        "commit": args.commit or commit_of(args.checkout),
        "grid": GRID,
        "seed": args.seed,
        "torch": torch.__version__,
        "single_objects": objects,
        "volumes": volumes,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, separators=(",", ":")) + "\n")
    print(f"wrote {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
