"""Scaled-down comparison: the same fine-tuning from scratch and from pre-trained weights.

Every source (``scratch`` plus named checkpoints, e.g. an FDIF and a PrimGeoSeg
pre-training) is fine-tuned with the same preset (same budget, same seed, same folds,
one shared preprocessing cache), evaluated on each fold's validation cases, and the Dice
(and surface Dice) gathered into one table. Runs that finished are reused, so an
interrupted comparison continues where it stopped.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import UserError, arg
from ..io.atomic import write_text
from ..presets.preset import Preset

SCRATCH = "scratch"


def parse_sources(specs: list[str]) -> dict[str, str | None]:
    """``["fdif=runs/a/last.pt", ...]`` -> ``{"scratch": None, "fdif": "runs/a/last.pt"}``."""
    out: dict[str, str | None] = {SCRATCH: None}
    for spec in specs:
        name, sep, path = spec.partition("=")
        if not sep or not name or not path:
            raise UserError(
                f"{arg('weights')} {spec}: expected NAME=CHECKPOINT (e.g. fdif=run/last.pt)"
            )
        if name in out:
            raise UserError(
                f"{arg('weights')} {spec}: name {name!r} given twice (scratch is built in)"
            )
        if not Path(path).is_file():
            raise UserError(f"{arg('weights')} {spec}: no checkpoint file {path}")
        out[name] = path
    return out


def _finished(run: Path, iterations: int) -> bool:
    from ..io.checkpoints import load_checkpoint

    last = run / "last.pt"
    return last.is_file() and int(load_checkpoint(last)["step"]) >= iterations


def compare(
    dataset: str | Path,
    preset: Preset,
    sources: dict[str, str | None],
    out: str | Path,
    *,
    folds: list[int | str] | None = None,
    device: str = "cpu",
    progress: bool = False,
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Fine-tune and evaluate every source on every fold; returns and writes the table.

    Args:
        dataset: the dataset (any supported layout).
        preset: a preset with a ``finetune:`` section (the shared budget and seed).
        sources: name -> checkpoint (None = from scratch), in table order.
        out: folder: ``<source>/fold_<k>/`` runs, ``cache/``, ``compare.json``, ``compare.md``.
        folds: which folds (default ``[0]``).
    """
    from ..evaluation.evaluate import evaluate_checkpoint
    from ..training.finetune import finetune, finetune_config

    cfg = finetune_config(preset)
    out = Path(out)
    folds = folds or [0]
    results: dict[str, dict[str, dict[str, Any]]] = {name: {} for name in sources}
    for fold in folds:  # fold-major: an interrupted comparison has whole folds done
        for name, weights in sources.items():
            run = out / name / f"fold_{fold}"
            if _finished(run, cfg.iterations):
                log(f"{name} fold {fold}: reusing the finished run {run}")
            else:
                log(f"{name} fold {fold}: fine-tuning ({cfg.iterations} steps) -> {run}")
                resume = run if (run / "last.pt").is_file() else None
                finetune(
                    None if resume else dataset,
                    None if resume else preset,
                    None if resume else run,
                    weights=weights,
                    fold=fold,
                    resume=resume,
                    device=device,
                    cache_dir=out / "cache",
                    progress=progress,
                    log_fn=lambda m, n=name: log(f"  [{n}] {m}"),
                )
            doc = evaluate_checkpoint(
                run / "best.pt", dataset, split="val", device=device, log=lambda _: None
            )
            results[name][str(fold)] = {"mean": doc["mean"], "per_class": doc["per_class"]}
            dice = doc["mean"].get("dice")
            log(f"{name} fold {fold}: mean Dice {_fmt(dice)}")
    table = {
        "dataset": str(dataset),
        "preset": preset.name,
        "iterations": cfg.iterations,
        "model": cfg.model,
        "seed": preset.seed,
        "folds": [str(f) for f in folds],
        "sources": dict(sources),
        "results": results,
    }
    write_text(out / "compare.json", json.dumps(table, indent=2))
    write_text(out / "compare.md", format_compare(table) + "\n")
    return table


def _fmt(v: float | None) -> str:
    return "n/a" if v is None else f"{v:.4f}"


def _mean(values: list[float | None]) -> float | None:
    vals = [v for v in values if v is not None]
    return float(np.mean(vals)) if vals else None


def format_compare(table: dict[str, Any]) -> str:
    """Markdown table: Dice per fold, mean Dice and mean surface Dice per source."""
    folds = table["folds"]
    nsd = sorted(
        {m for r in table["results"].values() for f in r.values() for m in f["mean"]} - {"dice"}
    )
    head = ["weights", *(f"Dice fold {f}" for f in folds), "mean Dice", *(f"mean {m}" for m in nsd)]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for name, per_fold in table["results"].items():
        dice = [per_fold[f]["mean"].get("dice") for f in folds]
        row = [name, *(_fmt(d) for d in dice), _fmt(_mean(dice))]
        row += [_fmt(_mean([per_fold[f]["mean"].get(m) for f in folds])) for m in nsd]
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)
