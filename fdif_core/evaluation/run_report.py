"""``fdif-core report RUN``: what a pre-training run learned, for a newcomer.

Loads the run's checkpoint, predicts its fixed synthetic validation volumes (the ones the
run validated on), prints the Dice of every class, and draws one figure: image, ground
truth and prediction side by side, with a legend of class names.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..errors import UserError, arg
from ..io.atomic import atomic_path
from ..io.preview import label_colors


def load_pretrained_run(run: Path, which: str = "best.pt"):
    """(model in eval mode, preset, checkpoint) of a pre-training run folder."""
    from ..io.checkpoints import load_checkpoint
    from ..networks import build_network
    from ..presets.preset import preset_from_text

    path = run / which
    if not path.is_file():
        raise UserError(f"report: {run} holds no {which} (is it a pre-training run folder?)")
    ckpt = load_checkpoint(path)
    if "preset" not in ckpt or ckpt.get("task", "segmentation") != "segmentation":
        raise UserError(f"report: {path} is not a segmentation pre-training checkpoint")
    preset = preset_from_text(ckpt["preset"], f"{path} (its preset)")
    cfg = preset.pretrain
    model = build_network(
        cfg.model, len(ckpt["label_names"]), cfg.patch_size, cfg.model_kwargs, section="pretrain"
    )
    model.load_state_dict(ckpt["model"])
    return model.eval(), preset, ckpt


def iter_validation(
    model, preset, device: str = "cpu", volumes: int | None = None
) -> Iterator[dict[str, Any]]:
    """Image, label and prediction of the preset's fixed validation volumes, one at a time
    (``volumes``: how many, default the run's ``val_volumes``; more continue the same
    sequence)."""
    from monai.inferers import sliding_window_inference

    from ..synthetic.stream import StreamConfig, val_indices, validation_volume

    recipe, stream = preset.recipe(), StreamConfig.of(preset)
    for i in val_indices(stream, volumes):
        image, label = validation_volume(recipe, stream, i)
        with torch.no_grad():
            logits = sliding_window_inference(
                image[None, None].to(device), preset.pretrain.patch_size, 4, model.to(device),
                overlap=0.25,
            )  # fmt: skip
        pred = logits.argmax(1)[0].cpu().numpy()
        yield {"index": i, "image": image.numpy(), "label": label.numpy(), "pred": pred}


def predict_validation(
    model, preset, device: str = "cpu", volumes: int | None = None
) -> list[dict[str, Any]]:
    """:func:`iter_validation` as a list (every volume held: for small checks)."""
    return list(iter_validation(model, preset, device, volumes))


def case_dice(item: dict[str, Any], labels: list[str]) -> dict[str, float | None]:
    """Dice of each foreground class in one volume (``None``: absent from its label)."""
    from .evaluate import case_metrics

    per = case_metrics(item["pred"], item["label"], labels, (1, 1, 1), ())
    return {name: per[name]["dice"] for name in labels[1:]}


def mean_dice(
    per_case: list[dict[str, float | None]], labels: list[str]
) -> dict[str, float | None]:
    """Mean Dice of each foreground class over the volumes that contain it."""
    from .evaluate import mean_over

    return {name: mean_over([p[name] for p in per_case]) for name in labels[1:]}


def class_dice(items: list[dict[str, Any]], labels: list[str]) -> dict[str, float | None]:
    """Mean Dice of each foreground class over the volumes that contain it."""
    return mean_dice([case_dice(it, labels) for it in items], labels)


def _best_slice(label: np.ndarray, axis: int) -> int:
    """The slice along ``axis`` that shows the most classes, then the most labelled voxels."""
    moved = np.moveaxis(label, axis, 0)
    score = [(len(np.unique(s[s > 0])), int((s > 0).sum())) for s in moved]
    return int(max(range(len(score)), key=lambda k: score[k]))


def draw_report(item: dict[str, Any], labels: list[str], dice: dict[str, float | None],
                path: Path, title: str) -> Path:  # fmt: skip
    """PNG: rows = two orthogonal slices; columns = image, ground truth, prediction."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.colors import ListedColormap
    from matplotlib.patches import Patch

    colors = label_colors(len(labels)).astype(float) / 255.0
    cmap = ListedColormap(np.c_[colors, np.r_[0.0, np.full(len(labels) - 1, 0.6)]])
    fig, axes = plt.subplots(2, 3, figsize=(13, 9.8))
    for row, axis in enumerate((0, 2)):
        k = _best_slice(item["label"], axis)
        img = np.take(item["image"], k, axis)
        for col, (name, lab) in enumerate(
            (("image", None), ("ground truth", item["label"]), ("prediction", item["pred"]))
        ):
            ax = axes[row, col]
            ax.imshow(img.T, cmap="gray", origin="lower", interpolation="nearest")
            if lab is not None:
                ax.imshow(np.take(lab, k, axis).T, cmap=cmap, vmin=0, vmax=len(labels) - 1,
                          origin="lower", interpolation="nearest")  # fmt: skip
            ax.set_title(f"{name}  ({'DHW'[axis]} = {k})", fontsize=13)
            ax.axis("off")
    handles = [Patch(color=colors[i], label=f"{n}  (Dice {dice[n]:.2f})" if dice[n] is not None
                     else n) for i, n in enumerate(labels) if i > 0]  # fmt: skip
    fig.legend(handles=handles, loc="lower center", ncol=min(len(handles), 4), fontsize=13,
               frameon=False)  # fmt: skip
    fig.suptitle(title, fontsize=15)
    fig.tight_layout(rect=(0, 0.07, 1, 0.95))
    fig.subplots_adjust(hspace=0.18)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=100)
    plt.close(fig)
    return path


def report_run(
    run: str | Path, out: str | Path | None = None, device: str = "cpu",
    volumes: int | None = None, overwrite: bool = False,
) -> dict:  # fmt: skip
    """Per-class validation Dice of a pre-training run and its labelled preview figure.

    ``out`` (default ``RUN/report.png``, the report's own file, replaced by each report)
    goes through the output guard: never a run's own file or the checkpoint read, an
    existing file only with ``overwrite``. ``volumes`` is checked against the preset's
    ``limits`` (cases and memory) before anything is rendered.
    """
    from ..io.targets import check_new_file
    from ..presets.limits import check_memory

    run = Path(run)
    path = Path(out) if out is not None else run / "report.png"
    check_new_file(path, arg("out"), overwrite or out is None)
    model, preset, ckpt = load_pretrained_run(run)
    labels = list(ckpt["label_names"])
    count = preset.pretrain.val_volumes if volumes is None else volumes
    if not 1 <= count <= preset.limits.max_cases and volumes is not None:
        raise UserError(
            f"report {arg('volumes')} {volumes}: allowed 1..{preset.limits.max_cases:,} "
            "(limits.max_cases)"
        )
    shape = tuple(preset.pretrain.render_shape or preset.volume.shape)
    check_memory(preset, "report", shape=shape, cases=count)  # type: ignore[arg-type]
    per_case: list[dict[str, float | None]] = []
    best, best_classes = None, -1
    for item in iter_validation(model, preset, device, volumes):  # one volume held at a time
        per_case.append(case_dice(item, labels))
        n = len(np.unique(item["label"]))
        if n > best_classes:
            best, best_classes = item, n
    if best is None:
        raise UserError(f"report: {run}'s preset has pretrain.val_volumes 0; nothing to show")
    dice = mean_dice(per_case, labels)
    vals = [v for v in dice.values() if v is not None]
    mean = float(np.mean(vals)) if vals else None
    title = (f"{preset.name}: synthetic validation volume {best['index']}, checkpoint step "
             f"{ckpt['step']}; class Dice over {len(per_case)} volumes {mean:.2f}")  # fmt: skip
    draw_report(best, labels, dice, path, title)
    return {"dice": dice, "mean": mean, "figure": path, "checkpoint": run / "best.pt",
            "step": int(ckpt["step"]), "volumes": len(per_case)}  # fmt: skip
