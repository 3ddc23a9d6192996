"""Fidelity of a preset to the authors' released generator, class family by class family.

Compares this project's engine with ``benchmarks/reference/authors_stats.json`` (made by
``authors_reference.py`` from the authors' own code, so this reruns without it):

- single objects: per family (each basic class alone, the other classes by construction),
  the median inside-voxel count of centred, posed, undisplaced objects at 96^3, as many
  draws per class as the reference has (>= 40), and a bootstrap 95 % interval of the ratio;
- whole volumes: foreground fraction, labels visible, zero fraction, visible voxels per
  label and the histogram of non-zero intensities, over as many volumes as the reference.

``--authors PATH --authors-python PY`` adds the speed check: process CPU seconds per paper
volume of the authors' generator and of this engine, one thread each, in this run. Usage::

    python benchmarks/fidelity.py                      # fdif-paper against the reference
    python benchmarks/fidelity.py --preset fdif-exact  # the exact-geometry ablation
    python benchmarks/fidelity.py --speed 4 --authors ../FDIF --authors-python venv/bin/python
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from collections import defaultdict
from dataclasses import replace
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(ROOT))
from fidelity_stats import HIST_EDGES, family, ratio_ci, summarize_volumes, volume_stats  # noqa: E402

REFERENCE = HERE / "reference" / "authors_stats.json"


def _recipe(preset: str):
    import torch

    from fdif_core import load_preset
    from fdif_core.presets.resolve import recipe

    torch.set_num_threads(1)
    return recipe(load_preset(preset))


def single_objects(preset: str, draws: dict[str, int], seed: int = 0) -> dict[str, list[int]]:
    """Inside-voxel counts of centred, undisplaced single objects per class."""
    import torch

    r = _recipe(preset)
    gen = torch.Generator().manual_seed(seed)
    out = {}
    for name, n in sorted(draws.items()):
        counts = []
        for _ in range(n):
            obj = replace(
                r.draw_object(gen, primitive=name, translation_scale=0.0), displacement=-1
            )
            counts.append(r.render([obj]).volumes[0])
        out[name] = counts
    return out


def whole_volumes(preset: str, count: int) -> list[dict]:
    r = _recipe(preset)
    return [
        volume_stats(s.image.numpy(), s.label.numpy()) for s in (r.sample(i) for i in range(count))
    ]


def family_table(ours: dict[str, list[int]], theirs: dict[str, list[int]]) -> list[dict]:
    fams: dict[str, tuple[list[int], list[int]]] = defaultdict(lambda: ([], []))
    for name in theirs:
        fams[family(name)][0].extend(ours[name])
        fams[family(name)][1].extend(theirs[name])
    rows = []
    for fam, (a, b) in fams.items():
        ratio, lo, hi = ratio_ci(a, b)
        rows.append(
            {
                "family": fam,
                "draws": len(a),
                "ours": float(np.median(a)),
                "theirs": float(np.median(b)),
                "ratio": ratio,
                "ci": (lo, hi),
                "in_target": 0.8 <= ratio <= 1.25 and lo <= 1.0 <= hi,
                "outside": not 0.67 <= ratio <= 1.5,
            }
        )
    return rows


def print_report(rows: list[dict], ours_v: dict, theirs_v: dict, preset: str) -> None:
    print(f"### Single objects ({preset} / authors), centred, no displacement, 96^3\n")
    print("| family | draws | median ours | median authors | ratio | 95 % CI | in target |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        mark = "yes" if r["in_target"] else ("**no, outside 0.67-1.5**" if r["outside"] else "no")
        print(
            f"| {r['family']} | {r['draws']} | {r['ours']:.0f} | {r['theirs']:.0f} | "
            f"{r['ratio']:.2f} | {r['ci'][0]:.2f}-{r['ci'][1]:.2f} | {mark} |"
        )
    n_in = sum(r["in_target"] for r in rows)
    n_out = sum(r["outside"] for r in rows)
    print(f"\n{n_in} of {len(rows)} families in target; {n_out} outside 0.67-1.5.\n")
    print(f"### Whole volumes ({ours_v['volumes']} ours, {theirs_v['volumes']} authors)\n")
    print("| statistic | ours | authors | ours / authors |")
    print("|---|---|---|---|")
    for key in (
        "foreground_fraction",
        "labels_visible",
        "zero_fraction",
        "visible_voxels_per_label",
    ):
        a, b = ours_v[key], theirs_v[key]
        print(f"| {key.replace('_', ' ')} | {a:.4g} | {b:.4g} | {a / b:.3f} |")
    for i, (a, b) in enumerate(zip(ours_v["histogram"], theirs_v["histogram"], strict=True)):
        lo, hi = HIST_EDGES[i], HIST_EDGES[i + 1] - 1
        print(f"| intensity {lo}-{hi} (share of non-zero) | {a:.4f} | {b:.4f} | {a / b:.3f} |")


def speed(preset: str, count: int, authors: Path, authors_python: str) -> None:
    """CPU seconds per volume, each generator in its own single-thread process, same run."""
    theirs = subprocess.run(
        [authors_python, str(HERE / "authors_reference.py"), str(authors), "--speed", str(count)],
        capture_output=True,
        text=True,
        check=True,
    )
    ours = subprocess.run(
        [sys.executable, __file__, "--preset", preset, "--speed-child", str(count)],
        capture_output=True,
        text=True,
        check=True,
    )
    a = json.loads(ours.stdout.strip().splitlines()[-1])["cpu_s_per_volume"]
    b = json.loads(theirs.stdout.strip().splitlines()[-1])["cpu_s_per_volume"]
    print(f"\n### Speed ({count} paper volumes each, one thread, process CPU time)\n")
    print(f"authors' generator / this engine: {b / a:.1f}x")


def speed_child(preset: str, count: int) -> None:
    r = _recipe(preset)
    r.sample(10**6)  # warm-up
    cpu = time.process_time()
    for i in range(count):
        r.sample(i)
    print(json.dumps({"cpu_s_per_volume": (time.process_time() - cpu) / count}))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--preset", default="fdif-paper")
    ap.add_argument("--reference", type=Path, default=REFERENCE)
    ap.add_argument("--out", type=Path, help="also write this run's statistics as JSON")
    ap.add_argument("--ours", type=Path, help="reuse the statistics of an earlier --out")
    ap.add_argument("--speed", type=int, default=0, help="volumes per side for the speed check")
    ap.add_argument("--authors", type=Path, help="local checkout of the authors' repository")
    ap.add_argument("--authors-python", help="a Python with the authors' dependencies")
    ap.add_argument("--speed-child", type=int, default=0, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.speed_child:
        return speed_child(args.preset, args.speed_child)
    ref = json.loads(args.reference.read_text())
    theirs = ref["single_objects"]
    if args.ours:
        saved = json.loads(args.ours.read_text())
        ours, vols = saved["single_objects"], saved["volumes"]
    else:
        ours = single_objects(args.preset, {k: len(v) for k, v in theirs.items()})
        vols = whole_volumes(args.preset, len(ref["volumes"]))
    ours_v, theirs_v = summarize_volumes(vols), summarize_volumes(ref["volumes"])
    print(f"reference: {ref['source']} at {ref['commit'][:7]}\n")
    print_report(family_table(ours, theirs), ours_v, theirs_v, args.preset)
    if args.out:
        args.out.write_text(json.dumps({"single_objects": ours, "volumes": vols}) + "\n")
    if args.speed:
        if not (args.authors and args.authors_python):
            raise SystemExit("--speed needs --authors and --authors-python")
        speed(args.preset, args.speed, args.authors, args.authors_python)


if __name__ == "__main__":
    main()
