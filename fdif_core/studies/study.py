"""``fdif-core study``: pre-train every arm on one budget, fine-tune on folds x seeds x regimes.

Units of work, each finished by writing one small JSON file atomically (a unit whose file
exists is skipped, an interrupted training run is resumed from its ``last.pt``):

- ``OUT/pretrain/<arm>/done.json``: the arm's pre-training (steps, batch, wall time);
- ``OUT/results/<regime>/<arm>/fold<k>_seed<s>.json``: one fine-tuning run of the arm on
  fold ``k`` with seed ``s`` (all arms see the same cases, steps and seed), evaluated on the
  fold's validation cases with the *last* checkpoint (no selection on the validation set),
  its validation Dice curve (over ``CURVE_TILES`` patch tiles per validation case,
  :mod:`fdif_core.evaluation.tiles`), its fine-tuning and evaluation times and its count of empty
  class predictions (a class of a validation label that the network never predicts).

Every preprocessed case is cached under ``OUT/cache/<plan digest>`` keyed by the case's
files (not the run), so arms, seeds and regimes that share a plan share the cache.

:mod:`.study_report` then writes the table (means, 95 % intervals, paired tests against
``scratch``) and the learning-curve figure.
"""

from __future__ import annotations

import json
import shutil
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from ..errors import UserError, arg
from ..io.atomic import write_text
from ..io.untrusted import read_json, read_json_lines
from ..presets import Preset, load_preset, parse_preset
from ..presets.study import SCRATCH, StudyArm, StudySpec

Log = Callable[[str], None]
DONE = "done.json"
# curve points score this many foreground patch tiles per validation case
# (fdif_core.evaluation.tiles); the unit's final evaluation is the full sliding window
CURVE_TILES = 32


def _read_json(path: Path) -> dict[str, Any] | None:
    """A unit's result read back: None when it is not there yet; refused when it is not a
    regular file of finite JSON (one line)."""
    if not path.exists() and not path.is_symlink():
        return None
    return read_json(path, "study result", dict)


def _write_json(path: Path, doc: dict[str, Any]) -> None:
    write_text(path, json.dumps(doc, indent=2) + "\n")


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    """Rows of a run's ``log.jsonl`` (missing file: none)."""
    if not path.exists():
        return []
    return read_json_lines(path, "run log")


def _resolve(name: str, base: Path | None, field: str = "preset") -> str:
    """A path relative to the spec's folder (it must stay inside it: no absolute paths, no
    ``..`` leaving it, symlinks resolved), else the name as given (a shipped preset)."""
    if base is None:
        return name
    root = base.resolve()
    given = Path(name)
    if given.is_absolute() or ".." in given.parts or (base / name).exists():
        full = (base / name).resolve()
        if not full.is_relative_to(root):
            raise UserError(
                f"study {field} {name!r}: leaves the spec's folder {base}; give a path inside "
                "it, or a shipped preset name"
            )
        return str(full)
    return name


# --------------------------------------------------------------------------- dataset
def study_dataset(spec: StudySpec, out: Path, base: Path | None) -> Path:
    """The base dataset: converted from its package, or the given nnU-Net folder."""
    if spec.dataset.source == "tptbox-spine":
        from ..real.spine import spine_dataset

        return spine_dataset(out / "data" / "base")
    if spec.dataset.source == "pyradiomics":
        from ..real.samples import pyradiomics_dataset

        return pyradiomics_dataset(out / "data" / "base")
    assert spec.dataset.path is not None
    path = Path(_resolve(spec.dataset.path, base, "dataset.path"))
    if not (path / "dataset.json").is_file() or not (path / "imagesTr").is_dir():
        raise UserError(f"study dataset.path {path}: not an nnU-Net v2 raw folder")
    return path


def regime_dataset(spec: StudySpec, base_ds: Path, regime: str, out: Path) -> Path:
    """A view of the base dataset whose ``splits_final.json`` holds the regime's folds."""
    from ..real.datalist import load_dataset

    cases = set(load_dataset(base_ds).cases)
    n = spec.regimes[regime]
    splits = []
    for k, fold in enumerate(spec.folds):
        unknown = sorted(set(fold.val + fold.train) - cases)
        if unknown:
            raise UserError(f"study fold {k}: unknown case(s) {unknown[:4]} in {base_ds}")
        splits.append({"train": fold.train[:n], "val": fold.val})
    root = out / "data" / regime
    root.mkdir(parents=True, exist_ok=True)
    for sub in ("imagesTr", "labelsTr"):
        link = root / sub
        if not link.exists():
            link.symlink_to((base_ds / sub).resolve(), target_is_directory=True)
    shutil.copyfile(base_ds / "dataset.json", root / "dataset.json")
    have = root / "splits_final.json"
    if not have.exists() or read_json(have, "splits file", list) != splits:
        _write_json(root / "splits_final.json", splits)  # type: ignore[arg-type]
    return root


# --------------------------------------------------------------------------- pre-training
def arm_preset(spec: StudySpec, arm: StudyArm, base: Path | None) -> Preset:
    """The arm's preset with the study's shared ``pretrain:`` budget and render shape."""
    assert arm.preset is not None
    preset = load_preset(_resolve(arm.preset, base, f"arms.{arm.name}.preset"))
    data = yaml.safe_load(preset.to_yaml())
    own = data.get("pretrain") or {}
    if spec.pretrain.get("model", own.get("model")) != own.get("model"):
        own.pop("model_kwargs", None)  # options of the arm's own model, not the study's
    data["pretrain"] = {**own, **spec.pretrain}
    if spec.pretrain_shape is not None:
        data["volume"]["shape"] = list(spec.pretrain_shape)
    return parse_preset(data, f"study arm {arm.name} ({arm.preset})")


def available_arms(
    spec: StudySpec, base: Path | None, log: Log, device: str = "cpu"
) -> dict[str, Preset | None]:
    """Arm name -> preset (None for scratch); arms whose preset is missing are skipped.

    An arm whose preset exists but cannot be used with the study's budget (a bad value,
    over its limits, more memory than the machine has) is refused: the study would
    otherwise start and stop at that arm."""
    from ..presets.limits import check_memory, check_workers, cpu_training
    from ..presets.preset import PresetError

    arms: dict[str, Preset | None] = {}
    for arm in spec.arms:
        if arm.preset is None:
            arms[arm.name] = None
            continue
        try:
            preset = arm_preset(spec, arm, base)
        except PresetError as err:
            if "no such preset" not in str(err):
                raise
            log(f"arm {arm.name}: skipped, its preset cannot be used ({err})")
            continue
        cfg = preset.pretrain
        if cfg is None:
            raise UserError(f"study arm {arm.name} ({arm.preset}): no pretrain: section")
        check_workers(cfg.num_workers, f"study arm {arm.name}: pretrain.num_workers", 0)
        extra = cpu_training(cfg) if device.startswith("cpu") else ()
        check_memory(preset, "pretrain", workers=cfg.num_workers, extra=extra)
        arms[arm.name] = preset
    return arms


def pretrain_arm(name: str, preset: Preset, out: Path, device: str, log: Log) -> Path:
    """Pre-train (or resume, or reuse) one arm; returns its checkpoint."""
    from ..training.pretrain import pretrain

    run = out / "pretrain" / name
    done = _read_json(run / DONE)
    if done is not None:
        if done.get("preset_hash") not in (None, preset.hash()):
            log(f"pre-training {name}: kept, though made with another version of its preset "
                f"(delete {run} to redo it)")  # fmt: skip
        return Path(done["checkpoint"])
    cfg = preset.pretrain
    assert cfg is not None
    spent = (_read_json(run / "wall.json") or {}).get("wall_s", 0.0)
    log(f"pre-training {name}: {cfg.iterations} steps x batch {cfg.batch_size} -> {run}")
    t0 = time.perf_counter()
    if (run / "last.pt").is_file():
        pretrain(resume=run, device=device, progress=False)
    else:
        pretrain(preset, run, device=device, progress=False)
    wall = spent + time.perf_counter() - t0
    rows = read_jsonl(run / "log.jsonl")
    val = [r["val_dice"] for r in rows if "val_dice" in r]
    doc = {
        "arm": name,
        "preset": preset.name,
        "preset_hash": preset.hash(),
        "iterations": cfg.iterations,
        "batch_size": cfg.batch_size,
        "crops_per_volume": cfg.augment.crops_per_volume,
        "patch_size": list(cfg.patch_size),
        "model": cfg.model,
        "train_s": round(sum(r.get("step_s", 0.0) for r in rows), 1),
        "wall_s": round(wall, 1),
        "synthetic_val_dice": val[-1] if val else None,
        "checkpoint": str(run / "last.pt"),
    }
    _write_json(run / DONE, doc)
    log(f"pre-training {name}: {wall:.0f} s, synthetic val Dice {doc['synthetic_val_dice']}")
    return run / "last.pt"


# --------------------------------------------------------------------------- fine-tuning
def finetune_preset(spec: StudySpec, base: Path | None, seed: int, quick: bool) -> Preset:
    """The shared fine-tuning preset, with the unit's seed and the study's curve interval."""
    preset = load_preset(_resolve(spec.finetune, base, "finetune"))
    if preset.finetune is None:
        raise UserError(f"study finetune: {spec.finetune} has no finetune: section")
    data = yaml.safe_load(preset.to_yaml())
    ft = data["finetune"]
    if quick:
        ft["iterations"] = spec.quick.finetune_iterations
        ft["warmup_steps"] = min(int(ft.get("warmup_steps", 0)), ft["iterations"] - 1)
        ft["freeze_encoder_steps"] = 0
    ft["val_interval"] = spec.curve_interval
    ft["checkpoint_interval"] = min(int(ft.get("checkpoint_interval", 100)), ft["iterations"])
    data["seed"] = seed
    return parse_preset(data, f"study finetune {spec.finetune} (seed {seed})")


def result_path(out: Path, regime: str, arm: str, fold: int, seed: int) -> Path:
    return out / "results" / regime / arm / f"fold{fold}_seed{seed}.json"


def finetune_unit(
    unit: dict[str, Any],
    preset: Preset,
    weights: str | None,
    dataset: Path,
    out: Path,
    device: str,
    log: Log,
    eval_overlap: float | None = None,
    eval_amp: str | None = None,
) -> dict[str, Any]:
    """Fine-tune (or resume), evaluate the last checkpoint, write the unit's result file.

    ``eval_overlap``: the sliding-window overlap of the final evaluation (None: the preset's
    ``sw_overlap``; ``--quick`` sets its spec's ``quick.eval_overlap``); ``eval_amp``: its
    autocast (None: the preset's ``amp``; ``--quick``: :func:`quick_amp`)."""
    from ..evaluation.evaluate import evaluate_checkpoint
    from ..training.finetune import finetune

    regime, arm, fold, seed = unit["regime"], unit["arm"], unit["fold"], unit["seed"]
    res = result_path(out, regime, arm, fold, seed)
    done = _read_json(res)
    if done is not None:
        return done
    run = out / "finetune" / regime / arm / f"fold{fold}_seed{seed}"
    t0 = time.perf_counter()
    quiet: Log = lambda _m: None  # noqa: E731
    if (run / "last.pt").is_file():
        finetune(resume=run, device=device, cache_dir=out / "cache", progress=False,
                 log_fn=quiet, val_windows=CURVE_TILES)  # fmt: skip
    else:
        finetune(
            dataset, preset, run, weights=weights, fold=fold, device=device,
            cache_dir=out / "cache", progress=False, log_fn=quiet, val_windows=CURVE_TILES,
        )  # fmt: skip
    wall = time.perf_counter() - t0
    t0 = time.perf_counter()
    with warnings.catch_warnings():  # third-party warnings never reach the terminal
        warnings.simplefilter("ignore")
        doc = evaluate_checkpoint(
            run / "last.pt", dataset, split="val", device=device, log=quiet,
            cache_dir=out / "cache", overlap=eval_overlap, amp=eval_amp,
        )  # fmt: skip
    eval_s = time.perf_counter() - t0
    empty = sum(len(v) for v in doc.get("empty", {}).values())
    rows = read_jsonl(run / "log.jsonl")
    result = {
        **unit,
        "iterations": preset.finetune.iterations if preset.finetune else None,
        "val_cases": sorted(doc.get("per_case", {})),
        "mean": doc["mean"],
        "per_class": doc["per_class"],
        "curve": {str(r["step"]): r["val_dice"] for r in rows if "val_dice" in r},
        "train_s": round(sum(r.get("step_s", 0.0) for r in rows), 1),
        "wall_s": round(wall, 1),
        "eval_s": round(eval_s, 1),
        "eval_overlap": eval_overlap if eval_overlap is not None else _sw_overlap(preset),
        "eval_amp": eval_amp or (preset.finetune.amp if preset.finetune else None),
        "empty": empty,
    }
    _write_json(res, result)
    dice = doc["mean"].get("dice")
    shown = f"{dice:.4f}" if dice is not None else "n/a"
    note = f", {empty} empty class prediction(s)" if empty else ""
    log(f"{regime} {arm} fold {fold} seed {seed}: Dice {shown} (fine-tuning {wall:.0f} s, "
        f"evaluation {eval_s:.0f} s{note})")  # fmt: skip
    return result


def quick_amp(setting: str, device: str) -> str | None:
    """The autocast of a ``--quick`` study's final evaluation: ``bf16``; or, for ``auto``,
    bf16 on a CPU whose oneDNN computes bf16 natively (about twice the windows per second of
    float32 on such a CPU, with AMX), else None (the preset's ``amp``)."""
    if setting == "bf16":
        return "bf16"
    if setting == "auto" and device.startswith("cpu"):
        import torch

        native = getattr(torch.ops.mkldnn, "_is_mkldnn_bf16_supported", None)
        return "bf16" if native is not None and native() else None
    return None


def _sw_overlap(preset: Preset) -> float | None:
    return preset.finetune.sw_overlap if preset.finetune is not None else None


def time_note(results: list[dict[str, Any]]) -> str:
    """One line: total fine-tuning and evaluation time of the units, their ratio, and the
    sliding-window overlap(s) the final evaluations used."""
    train = sum(float(r.get("wall_s") or 0.0) for r in results)
    ev = sum(float(r.get("eval_s") or 0.0) for r in results)
    ratio = f" ({100 * ev / train:.0f} % of fine-tuning)" if train > 0 else ""
    overlaps = sorted({float(o) for r in results if (o := r.get("eval_overlap")) is not None})
    shown = ", ".join(f"{o:g}" for o in overlaps)
    amps = sorted({str(a) for r in results if (a := r.get("eval_amp")) not in (None, "off")})
    where = f", final evaluation at sliding-window overlap {shown}" if overlaps else ""
    where += f" in {', '.join(amps)}" if amps and where else ""
    return f"time: fine-tuning {train:.0f} s, evaluation {ev:.0f} s{ratio}{where}"


def plan_units(spec: StudySpec, arms: list[str]) -> list[dict[str, Any]]:
    """Every fine-tuning unit, seed-major then fold then regime then arm: an interrupted
    study has whole (seed, fold) pairs for every arm, which the paired tests need."""
    return [
        {"regime": regime, "arm": arm, "fold": k, "seed": seed}
        for seed in spec.seeds
        for k in range(len(spec.folds))
        for regime in spec.regimes
        for arm in arms
    ]


def run_study(
    spec: StudySpec,
    out: str | Path,
    *,
    base: Path | None = None,
    quick: bool = False,
    device: str = "cpu",
    report_only: bool = False,
    log: Log = print,
) -> dict[str, Any]:
    """Run (or continue) a study; returns the summary that :mod:`.study_report` wrote.

    ``report_only``: train nothing; write the table and figure from the units finished so far.
    """
    from .study_report import write_report

    out = Path(out)
    _check_out(out)
    if quick:
        spec = spec.quick_version()
    if report_only:
        return _report_only(spec, out, log)
    arms = available_arms(spec, base, log, device)  # every check before anything is written
    presets = {s: finetune_preset(spec, base, s, quick) for s in spec.seeds}
    eval_overlap = spec.quick.eval_overlap if quick else None
    eval_amp = quick_amp(spec.quick.eval_amp, device) if quick else None
    if spec.dataset.path is not None:
        _resolve(spec.dataset.path, base, "dataset.path")
    out.mkdir(parents=True, exist_ok=True)
    write_text(out / "study.yaml", yaml.safe_dump(spec.model_dump(mode="json"), sort_keys=False))
    base_ds = study_dataset(spec, out, base)
    weights: dict[str, str | None] = {SCRATCH: None}
    pretrained: dict[str, dict[str, Any]] = {}
    for name, preset in arms.items():
        if preset is not None:
            weights[name] = str(pretrain_arm(name, preset, out, device, log))
            pretrained[name] = _read_json(out / "pretrain" / name / DONE) or {}
    datasets = {r: regime_dataset(spec, base_ds, r, out) for r in spec.regimes}
    units = plan_units(spec, list(arms))
    log(f"study {spec.name}: {len(units)} fine-tuning runs ({len(arms)} arms)")
    results = [
        finetune_unit(u, presets[u["seed"]], weights[u["arm"]], datasets[u["regime"]], out,
                      device, log, eval_overlap, eval_amp)
        for u in units
    ]  # fmt: skip
    note = time_note(results)
    log(note)
    return write_report(spec, results, pretrained, out, skipped=[
        a.name for a in spec.arms if a.name not in arms
    ], time=note)  # fmt: skip


def _check_out(out: Path) -> None:
    """A study folder is new, empty, or an earlier study (continued): never another folder
    with files in it."""
    from ..io.targets import visible_entries

    if out.is_dir() and not (out / "study.yaml").is_file():
        names = visible_entries(out)
        if names:
            raise UserError(
                f"{arg('out')} {out}: holds files of something else ({', '.join(names[:3])}); a "
                "study goes into a new or empty folder, or continues its own"
            )


def _report_only(spec: StudySpec, out: Path, log: Log) -> dict[str, Any]:
    from .study_report import write_report

    if not out.is_dir():
        raise UserError(f"study {arg('report')}: {out} holds no study")
    arms = [a.name for a in spec.arms]
    results = [r for u in plan_units(spec, arms)
               if (r := _read_json(result_path(out, u["regime"], u["arm"], u["fold"], u["seed"])))]
    pretrained = {a: d for a in arms if (d := _read_json(out / "pretrain" / a / DONE))}
    present = {r["arm"] for r in results}
    note = time_note(results)
    log(f"study {spec.name}: report of {len(results)} finished fine-tuning runs; {note}")
    missing = [a for a in arms if a not in present]
    return write_report(spec, results, pretrained, out, skipped=missing, time=note)
