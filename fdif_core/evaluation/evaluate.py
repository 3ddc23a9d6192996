"""Evaluation of a segmentation network on labelled cases.

Sliding-window inference (MONAI's windows, Gaussian blending) on the preprocessed image,
streamed slab by slab (:mod:`.sliding`); softmax probabilities mapped back to each case's
original geometry by inverting the preprocessing (crop, resampling, orientation) and reduced
to their argmax slab by slab (:mod:`.inverse`), NIfTI written with the original affine;
per-case and per-class Dice and surface Dice at given tolerances in mm (normalised surface
distance; MONAI's ``DiceMetric`` / ``SurfaceDiceMetric`` definitions, computed by
:mod:`.surface`) in the original spacing. See docs/evaluation.md.
"""

from __future__ import annotations

import csv
import io
import json
import math
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..dtypes import label_dtype
from ..engine.threads import torch_threads
from ..io.atomic import write_text
from ..io.nifti import write_nifti
from ..presets.training import amp_dtype
from ..real.preprocess import (
    Plan,
    case_geometry,
    preprocess_case,
    preprocess_transforms,
    tracking_meta,
)

NSD_TOLERANCES_MM = (1.0, 2.0)


def nsd_key(tol: float) -> str:
    return f"nsd_{tol:g}mm"


def case_metrics(
    pred: torch.Tensor | np.ndarray,
    ref: torch.Tensor | np.ndarray,
    labels: Sequence[str],
    spacing: Sequence[float],
    tolerances: Sequence[float] = NSD_TOLERANCES_MM,
) -> dict[str, dict[str, float | None]]:
    """Dice and surface Dice of one case, by foreground class.

    Args:
        pred, ref: integer label maps of the same spatial shape (no channel axis).
        labels: class names indexed by label value (``labels[0]`` is the background).
        spacing: voxel spacing in mm (surface distances are in mm).
        tolerances: surface Dice tolerances in mm.

    Returns:
        ``{class: {"dice": d, "nsd_1mm": s, ...}}``; a class absent from the reference
        gives None (excluded from means, as nnU-Net does), a present class that the
        prediction misses gives 0.
    """
    from .surface import label_metrics

    n = len(labels)
    p, r = (np.asarray(a) for a in (pred, ref))
    p, r = (a if np.issubdtype(a.dtype, np.integer) else a.astype(np.int64) for a in (p, r))
    if p.shape != r.shape:
        raise ValueError(f"prediction shape {p.shape} != reference {r.shape}")
    m = label_metrics(p, r, n, spacing, tolerances)
    scores = {"dice": m["dice"], **{nsd_key(t): m["nsd"][k] for k, t in enumerate(tolerances)}}
    present = np.bincount(r.ravel().astype(np.int64), minlength=n)[1:n] > 0
    out: dict[str, dict[str, float | None]] = {}
    for c, name in enumerate(labels[1:]):
        out[name] = {
            k: (float(v[c]) if present[c] and not math.isnan(v[c]) else None)
            for k, v in scores.items()
        }
    return out


def empty_classes(pred: np.ndarray, ref: np.ndarray, labels: Sequence[str]) -> list[str]:
    """Classes the reference has and the prediction lacks entirely (scored 0)."""
    n = len(labels)
    p = np.bincount(np.asarray(pred).ravel(), minlength=n)
    r = np.bincount(np.asarray(ref).ravel(), minlength=n)
    return [labels[c] for c in range(1, n) if r[c] > 0 and p[c] == 0]


def mean_over(values: list[float | None]) -> float | None:
    vals = [v for v in values if v is not None]
    return float(np.mean(vals)) if vals else None


def summarize(
    per_case: dict[str, dict[str, dict[str, float | None]]], labels: Sequence[str]
) -> dict[str, Any]:
    """Per-class means over cases and the mean over foreground classes, per metric."""
    metrics = sorted({m for case in per_case.values() for cls in case.values() for m in cls})
    by_class = {
        name: {m: mean_over([per_case[c][name].get(m) for c in per_case]) for m in metrics}
        for name in labels[1:]
    }
    overall = {m: mean_over([by_class[n][m] for n in labels[1:]]) for m in metrics}
    return {"mean": overall, "per_class": by_class}


@dataclass
class Predictor:
    """Sliding-window predictor of a network trained on preprocessed patches.

    Attributes:
        model: the network (eval mode is set here).
        plan: the preprocessing it was trained with.
        patch_size: sliding-window size.
        overlap: window overlap (0.5 as nnU-Net).
        sw_batch_size: windows per forward pass.
        device: torch device of the network.
        amp: autocast dtype (``bf16`` / ``fp16``) or ``off``.
        progress: show a progress bar over the windows of each case.
        threads: CPU threads to use (None: ``torch.get_num_threads()``); see
            :meth:`parallelism`.
    """

    model: torch.nn.Module
    plan: Plan
    patch_size: tuple[int, int, int]
    overlap: float = 0.5
    sw_batch_size: int = 2
    device: torch.device | str = "cpu"
    amp: str = "off"
    progress: bool = False
    threads: int | None = None

    def __post_init__(self) -> None:
        self.transform = preprocess_transforms(self.plan, label=False)

    def parallelism(self) -> tuple[int, int | None]:
        """Forward-pass threads and torch's intra-op threads for :meth:`predict`.

        On the CPU with two or more threads: two threads run the forward passes of
        different window batches, each with half the threads inside its operations, while
        the calling thread maps the finished slabs back: independent work on every core,
        rather than one thread's operations split across cores and the mapping back run on
        one of them (a split operation waits for its slowest core: on a busy machine, many
        times slower). One thread: everything in the calling thread. A GPU: one thread
        feeds it while the calling thread maps back; torch's threads unchanged (None).
        """
        if torch.device(self.device).type != "cpu":
            return 1, None
        total = max(1, int(self.threads or torch.get_num_threads()))
        return (2, max(1, total // 2)) if total >= 2 else (0, 1)

    def logits(self, image: torch.Tensor) -> torch.Tensor:
        """Logits ``(C, *spatial)`` of a preprocessed image ``(channels, *spatial)``."""
        from monai.inferers import sliding_window_inference

        dev = torch.device(self.device)
        dtype = amp_dtype(self.amp)
        self.model.eval()
        x = torch.as_tensor(image, dtype=torch.float32).as_subclass(torch.Tensor)[None].to(dev)
        with (
            torch.no_grad(),
            torch.autocast(dev.type, dtype=dtype, enabled=dtype is not None),
        ):
            out = sliding_window_inference(
                x,
                self.patch_size,
                self.sw_batch_size,
                self.model,
                overlap=self.overlap,
                mode="gaussian",
                padding_mode="constant",
            )
        return out[0].float().cpu()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits of a window batch on the network's device (autocast as configured)."""
        dev = torch.device(self.device)
        dtype = amp_dtype(self.amp)
        with (
            torch.inference_mode(),
            torch.autocast(dev.type, dtype=dtype, enabled=dtype is not None),
        ):
            return self.model(x.to(dev))

    def predict(
        self, item: dict[str, Any], preprocessed: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Label map of one case in its original geometry, and the original affine.

        ``preprocessed``: the case as the plan's preprocessing left it (a cached case with
        its ``geometry``, :func:`~fdif_core.real.preprocess.case_geometry`); None (or a case
        cached without it) preprocesses ``item`` here.

        Streams: sliding-window logits arrive slab by slab (:mod:`.sliding`), each slab's
        softmax is mapped back to the original grid and reduced to its argmax there
        (:mod:`.inverse`); no full-size probability volume is ever held.
        """
        from .inverse import ArgmaxWriter
        from .sliding import sliding_chunks

        data = preprocessed
        if data is None or "geometry" not in data:
            with tracking_meta():  # affines are needed throughout, whatever the global setting
                data = preprocess_case(
                    self.transform, {k: v for k, v in item.items() if k != "label"}
                )
        image = data["image"]
        geo = data.get("geometry") or case_geometry(image)
        affine = np.asarray(geo["original_affine"], dtype=np.float64)
        shape = tuple(int(s) for s in np.asarray(geo["spatial_shape"]).ravel()[:3])
        n = len(self.plan.labels)
        writer = ArgmaxWriter(
            tuple(image.shape[1:]), np.asarray(geo["affine"], np.float64), shape, affine,
            np.dtype(label_dtype(n)),
        )  # fmt: skip
        self.model.eval()
        x = torch.as_tensor(image, dtype=torch.float32).as_subclass(torch.Tensor)
        workers, threads = self.parallelism()
        probs: torch.Tensor | None = None  # one buffer for every slab's softmax
        with torch_threads(threads):  # worker threads started below take this too
            for start, logits in sliding_chunks(
                x, self.forward, self.patch_size, overlap=self.overlap,
                sw_batch_size=self.sw_batch_size, device=self.device, progress=self.progress,
                workers=workers, reuse=True,
            ):  # fmt: skip
                if probs is None or probs.numel() < logits.numel():
                    probs = torch.empty(logits.numel())
                out = probs[: logits.numel()].view(logits.shape)
                writer.add(start, torch.softmax(logits, 0, out=out))
        return writer.result(), affine


def cached_validation(
    plan: Plan, items: list[dict[str, Any]], cache_dir: Path | None
) -> Any | None:
    """The items preprocessed by the plan, from the disk cache fine-tuning filled
    (``cache_dir/<plan digest>``, keyed by the case's files: every run with this plan shares
    it); None without a cache folder or for items without labels (the cache holds both)."""
    from ..real.patches import cached_cases

    if cache_dir is None or not items or any("label" not in it for it in items):
        return None
    return cached_cases(
        items, preprocess_transforms(plan), mode="disk", cache_dir=Path(cache_dir) / plan.digest()
    )


def load_reference(path: str) -> tuple[np.ndarray, np.ndarray, tuple[float, float, float]]:
    """A reference label map as stored (its dtype kept): array, affine and voxel spacing."""
    from monai.transforms import LoadImage

    with tracking_meta():
        ref = LoadImage(image_only=True)(path)
    spacing = np.sqrt((np.asarray(ref.affine)[:3, :3] ** 2).sum(0))
    return np.asarray(ref), np.asarray(ref.affine), tuple(spacing.tolist())


def evaluate_cases(
    predictor: Predictor,
    items: list[dict[str, Any]],
    out_dir: Path,
    *,
    tolerances: Sequence[float] = NSD_TOLERANCES_MM,
    log: Callable[[str], None] = print,
    cache_dir: Path | None = None,
) -> dict[str, Any]:
    """Predict every item, write ``predictions/<case>.nii.gz``, ``metrics.json``, ``.csv``.

    Items without a ``label`` are predicted but not scored. ``cache_dir``: the preprocessing
    cache of fine-tuning (:func:`cached_validation`); the cases are read from it rather than
    preprocessed again.

    Returns:
        The metrics document also written to ``out_dir/metrics.json``; ``empty`` lists,
        per case, the classes of the reference that the prediction lacks entirely.
    """
    from ..errors import UserError
    from ..real.checks import check_label_array

    labels = predictor.plan.labels
    per_case: dict[str, dict[str, dict[str, float | None]]] = {}
    empty: dict[str, list[str]] = {}
    cached = cached_validation(predictor.plan, items, cache_dir)
    for k, item in enumerate(items):
        case = str(item["case"])
        if "label" in item:  # checked before anything is predicted or written
            try:
                ref, ref_affine, spacing = load_reference(item["label"])
            except Exception as err:  # nibabel, ITK, gzip... raise many kinds
                msg = (str(err).strip().splitlines() or [type(err).__name__])[0][:120]
                raise UserError(f"case {case}: cannot read label {item['label']} ({msg})") from None
            ref = ref.reshape(ref.shape[-3:]) if ref.ndim > 3 else ref
            check_label_array(ref, case, item["label"], labels)
            ref = ref.astype(label_dtype(len(labels)))
        with warnings.catch_warnings():  # third-party warnings stay off the terminal
            warnings.simplefilter("ignore")
            pred, affine = predictor.predict(item, cached[k] if cached is not None else None)
        write_nifti(out_dir / "predictions" / f"{case}.nii.gz", pred, affine)
        if "label" not in item:
            log(f"[{k + 1}/{len(items)}] {case}: predicted (no reference label)")
            continue
        if ref.shape != pred.shape or not np.allclose(ref_affine, affine, atol=1e-3):
            raise UserError(
                f"case {case}: prediction geometry {pred.shape} does not match the label "
                f"{ref.shape}; the image and label headers disagree"
            )
        per_case[case] = case_metrics(pred, ref, labels, spacing, tolerances)
        empty[case] = empty_classes(pred, ref, labels)
        dices = [v["dice"] for v in per_case[case].values()]
        shown = mean_over(dices)
        log(
            f"[{k + 1}/{len(items)}] {case}: mean Dice "
            + (f"{shown:.4f}" if shown is not None else "n/a (no foreground in the label)")
            + (f"; empty prediction: {', '.join(empty[case])}" if empty[case] else "")
        )
    doc = {"classes": list(labels[1:]), "per_case": per_case, **summarize(per_case, labels),
           "empty": {c: v for c, v in empty.items() if v}}  # fmt: skip
    write_text(out_dir / "metrics.json", json.dumps(doc, indent=2, allow_nan=False))
    write_text(out_dir / "metrics.csv", metrics_csv(per_case))
    return doc


def metrics_csv(per_case: dict[str, dict[str, dict[str, float | None]]]) -> str:
    """One row per (case, class): ``case,class,dice,nsd_1mm,...`` (empty = not defined)."""
    buf = io.StringIO()
    metrics = sorted({m for case in per_case.values() for cls in case.values() for m in cls})
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["case", "class", *metrics])
    for case, classes in per_case.items():
        for name, vals in classes.items():
            w.writerow(
                [case, name, *("" if vals[m] is None else f"{vals[m]:.6f}" for m in metrics)]
            )
    return buf.getvalue()


def load_finetuned(path: str | Path, device: torch.device | str = "cpu"):
    """Network, plan and checkpoint of a fine-tuning run's ``last.pt`` / ``best.pt``."""
    from ..errors import UserError, arg
    from ..io.checkpoints import load_checkpoint
    from ..networks import build_network

    state = load_checkpoint(path)
    if state.get("task") != "finetune" or "plan" not in state:
        raise UserError(
            f"{arg('weights')} {path}: not a fine-tuned checkpoint (task {state.get('task')!r}); "
            "evaluate the best.pt of an `fdif-core finetune` run"
        )
    plan = Plan.from_dict(state["plan"])
    model = build_network(
        state["model_name"],
        int(state["out_channels"]),
        tuple(state["patch_size"]),
        dict(state.get("model_kwargs") or {}),
        int(state["in_channels"]),
    )
    model.load_state_dict(state["model"])
    return model.to(device), plan, state


def evaluate_checkpoint(
    weights: str | Path,
    dataset: str | Path | None = None,
    *,
    split: str = "val",
    out: str | Path | None = None,
    device: torch.device | str = "cpu",
    overlap: float | None = None,
    amp: str | None = None,
    tolerances: Sequence[float] = NSD_TOLERANCES_MM,
    progress: bool = False,
    log: Callable[[str], None] = print,
    cache_dir: str | Path | None = None,
    threads: int | None = None,
) -> dict[str, Any]:
    """Evaluate a fine-tuned checkpoint on the fold's validation cases or the test cases.

    Args:
        weights: ``best.pt`` / ``last.pt`` of a fine-tuning run.
        dataset: the dataset (default: the one the run was trained on, from ``run.json``).
        split: ``val`` (the checkpoint's fold) or ``test`` (the dataset's test cases).
        out: output folder (default ``RUN/eval_<split>``).
        overlap: sliding-window overlap (default: the run's ``sw_overlap``).
        amp: autocast of the forward passes, ``off`` / ``bf16`` / ``fp16`` (default: the run's).
        progress: a progress bar over each case's sliding windows (stderr).
        cache_dir: the preprocessing cache fine-tuning filled (default for ``val``: ``RUN/cache``
            when it exists); labelled cases are read from it, not preprocessed again.
        threads: CPU threads of the predictions (default ``torch.get_num_threads()``;
            :meth:`Predictor.parallelism`).
    """

    from ..errors import UserError, arg
    from ..real.datalist import load_dataset
    from ..real.splits import fold_cases

    weights = Path(weights)
    model, plan, state = load_finetuned(weights, device)
    if torch.device(device).type == "cpu":  # inference only: the faster CPU kernel
        from .norms import instance_norms_as_group_norms

        instance_norms_as_group_norms(model)
    run_dir = weights.parent
    if dataset is None:
        info_file = run_dir / "run.json"
        if not info_file.is_file():
            raise UserError(f"{arg('dataset')}: not given and {info_file} does not name one")
        from ..io.untrusted import read_json

        dataset = read_json(info_file, "run.json").get("dataset")
        if not isinstance(dataset, str) or not dataset.strip():
            raise UserError(f"{arg('dataset')}: not given and {info_file} does not name one")
    ds = load_dataset(dataset)
    if list(ds.labels) != list(plan.labels):
        raise UserError(
            f"{arg('dataset')} {dataset}: classes {ds.labels} differ from the checkpoint's "
            f"{plan.labels}"
        )
    if len(ds.channels) != int(state["in_channels"]):
        raise UserError(
            f"{arg('dataset')} {dataset}: {len(ds.channels)} channel(s); the network takes "
            f"{state['in_channels']}"
        )
    if split == "val":
        fold = state.get("fold", "0")
        fold = int(fold) if str(fold).isdigit() else fold
        _, ids = fold_cases(ds, fold, run_dir)
        if not ids:
            raise UserError(
                f"{arg('split')} val: fold {fold} has no validation cases; use {arg('split')} test"
            )
        items = ds.datalist(ids)
    elif split == "test":
        if not ds.test:
            raise UserError(
                f"{arg('split')} test: {ds.root} has no test cases (imagesTs/ or test list)"
            )
        items = [c.item() for c in ds.test]
    else:
        raise UserError(f"{arg('split')} {split}: allowed: val, test")
    predictor = Predictor(
        model,
        plan,
        tuple(state["patch_size"]),
        overlap if overlap is not None else float(state.get("sw_overlap", 0.5)),
        int(state.get("sw_batch_size", 2)),
        device,
        amp if amp is not None else str(state.get("amp", "off")),
        progress,
        threads,
    )
    out_dir = Path(out) if out else run_dir / f"eval_{split}"
    log(f"evaluating {weights} on {len(items)} {split} case(s) of {ds.name} -> {out_dir}")
    if cache_dir is None and split == "val" and (run_dir / "cache").is_dir():
        cache_dir = run_dir / "cache"
    return evaluate_cases(
        predictor, items, out_dir, tolerances=tolerances, log=log,
        cache_dir=Path(cache_dir) if cache_dir is not None else None,
    )  # fmt: skip


def format_table(doc: dict[str, Any]) -> str:
    """Per-class means and the foreground mean as an aligned text table."""
    metrics = list(doc["mean"])
    width = max([len("mean (foreground)"), *(len(c) for c in doc["classes"])])
    lines = ["class".ljust(width) + "".join(f"  {m:>9}" for m in metrics)]

    def fmt(v: float | None) -> str:
        return f"  {v:9.4f}" if v is not None else f"  {'n/a':>9}"

    for name in doc["classes"]:
        lines.append(name.ljust(width) + "".join(fmt(doc["per_class"][name][m]) for m in metrics))
    lines.append("mean (foreground)".ljust(width) + "".join(fmt(doc["mean"][m]) for m in metrics))
    return "\n".join(lines)
