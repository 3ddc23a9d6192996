"""Pre-training: a network from ``NETWORKS`` on the formula-driven stream, through ``fit``.

What is pre-training's own: the network sized by the recipe's labels, the synthetic stream
(or a generated dataset), a fixed synthetic validation set (mean Dice, or accuracy) and the
preview of its first volume. On the CPU a resumed run repeats an uninterrupted one step for
step: the data of step ``s`` is a pure function of (preset, s) and every RNG state is
checkpointed.
"""

from __future__ import annotations

import math
import os
from collections.abc import Generator
from pathlib import Path

import torch

from ..engine.compose import Recipe
from ..engine.threads import torch_threads
from ..errors import ArgumentError
from ..networks import NETWORKS, build_classifier, build_network
from ..presets.preset import Preset
from ..synthetic.stream import (
    DiskSource,
    StreamConfig,
    SyntheticSource,
    batches,
    train_index,
    val_indices,
    validation_volume,
)
from .distributed import Dist, init_distributed
from .loop import MicroBatch, RunResult, Task, TrainingError, TrainingInterrupted, fit
from .optim import Amp
from .rundir import BEST, LAST, LOG, PRESET, open_run, read_log

PREVIEW = "preview.png"
__all__ = [
    "BEST", "LAST", "LOG", "PRESET", "PREVIEW", "RunResult", "TrainingError",
    "TrainingInterrupted", "make_model", "pretrain", "read_log",
]  # fmt: skip


def make_model(preset: Preset, recipe: Recipe | None = None) -> torch.nn.Module:
    """The preset's network, seeded by the preset seed (same weights on every rank)."""
    cfg = preset.pretrain
    n_labels = len((recipe or preset.recipe()).label_names)
    torch.manual_seed(preset.seed)
    if cfg.task == "classification":
        return build_classifier(
            cfg.model, n_labels - 1, cfg.patch_size, cfg.model_kwargs, section="pretrain"
        )
    return build_network(cfg.model, n_labels, cfg.patch_size, cfg.model_kwargs, section="pretrain")


def check_preset(preset: Preset) -> None:
    """Checks that need the network registry (one ``UserError`` line each)."""
    cfg = preset.pretrain
    NETWORKS.get(cfg.model).check_patch(cfg.patch_size, cfg.model_kwargs, "pretrain")


# --------------------------------------------------------------------------- validation
class Validator:
    """Fixed synthetic validation set (by preset seed): mean Dice, or accuracy."""

    def __init__(self, preset: Preset, recipe: Recipe, device: torch.device) -> None:
        self.preset = preset
        self.device = device
        self.recipe = recipe
        cfg = preset.pretrain
        self.items: list[tuple[torch.Tensor, torch.Tensor]] = []
        stream = StreamConfig.of(preset)
        for i in val_indices(stream):
            if cfg.task == "classification":
                img, cls = self.recipe.classification_sample(i, cfg.patch_size, device)
                self.items.append((img.cpu()[None, None], torch.tensor([cls])))
            else:  # rendered on the training device, kept on the CPU
                image, label = validation_volume(self.recipe, stream, i, device)
                self.items.append((image.cpu()[None, None], label.long().cpu()))
        self.last_pred: torch.Tensor | None = None

    def __bool__(self) -> bool:
        return bool(self.items)

    @torch.no_grad()
    def __call__(self, model: torch.nn.Module, amp: Amp) -> dict[str, float]:
        """``val_acc``, or ``val_dice`` (mean over classes) and ``fg_dice`` (foreground)."""
        was_training = model.training
        model.eval()
        try:
            if self.preset.pretrain.task == "classification":
                return {"val_acc": self._accuracy(model, amp)}
            return self._dice(model, amp)
        finally:
            model.train(was_training)

    def _accuracy(self, model: torch.nn.Module, amp: Amp) -> float:
        hits = 0
        for img, cls in self.items:
            with amp.autocast():
                out = model(img.to(self.device))
            hits += int(out.argmax(1).cpu() == cls)
        return hits / len(self.items)

    def _dice(self, model: torch.nn.Module, amp: Amp) -> dict[str, float]:
        from monai.inferers import sliding_window_inference
        from monai.metrics import compute_dice
        from monai.networks.utils import one_hot

        # functional Dice (no cross-rank sync: validation runs on rank 0 only)
        n = len(self.recipe.label_names)
        scores, fg_scores = [], []
        for k, (img, lab) in enumerate(self.items):
            with amp.autocast():
                logits = sliding_window_inference(
                    img.to(self.device),
                    roi_size=self.preset.pretrain.patch_size,
                    sw_batch_size=4,
                    predictor=model,
                    overlap=0.25,
                )
            pred = logits.float().argmax(1).cpu()
            if k == 0:
                self.last_pred = pred[0]
            dice = compute_dice(
                one_hot(pred[:, None], n),
                one_hot(lab[None, None], n),
                include_background=False,
                ignore_empty=True,
            )
            scores.append(dice.flatten())
            fg = compute_dice((pred > 0)[:, None].float(), (lab > 0)[None, None].float())
            fg_scores.append(fg.flatten())
        value = float(torch.nanmean(torch.cat(scores)))
        fg = float(torch.nanmean(torch.cat(fg_scores)))
        return {"val_dice": 0.0 if math.isnan(value) else value, "fg_dice": fg}

    def preview(self, path: Path) -> Path | None:
        """PNG: intensity, ground-truth overlay and prediction overlay of validation volume 0."""
        import numpy as np

        from ..io.preview import montage, save_png

        if self.last_pred is None:
            return None
        img, lab = self.items[0]
        gt = montage(img[0, 0], lab)
        pr = montage(img[0, 0], self.last_pred)
        save_png(path, np.concatenate([gt, pr[gt.shape[0] // 2 :]], axis=0))
        return path


# --------------------------------------------------------------------------- the run
def pretrain(
    preset: Preset | None = None,
    out: str | Path | None = None,
    *,
    resume: str | Path | None = None,
    device: str | torch.device = "cpu",
    data: str | Path | None = None,
    workers: int | None = None,
    max_steps: int | None = None,
    progress: bool = True,
) -> RunResult:
    """Pre-train the preset's network; returns where things are and the losses of this call.

    Args:
        preset: the recipe (its ``pretrain:`` section); read from the run folder on resume.
        out: new run folder (checkpoints, log, TensorBoard, preview).
        resume: an existing run folder: continue from its ``last.pt``.
        device: ``cpu`` or ``cuda[:N]`` (under ``torchrun`` each rank takes its local GPU).
        data: train on a dataset folder from ``fdif-core generate`` instead of the stream.
        workers: DataLoader workers on the CPU (default: the preset's ``num_workers``).
        max_steps: stop (with a checkpoint) after this many steps in this call.
        progress: show a tqdm progress bar (rank 0).

    Raises:
        TrainingError: a non-finite loss; TrainingInterrupted: SIGINT / SIGTERM (saved).
    """
    run = open_run(preset, out, resume)
    preset = run.preset
    check_preset(preset)
    cfg = preset.pretrain
    if cfg.task == "classification" and data is not None:
        raise ArgumentError("data", "classification pre-training uses the on-the-fly stream only")
    dist, dev = init_distributed(torch.device(device))
    if dev.type == "cuda":  # speed over bitwise reproducibility (promised on the CPU only)
        torch.backends.cudnn.benchmark = True
        torch.set_float32_matmul_precision("high")
    recipe = preset.recipe()  # resolved once for the model, the stream and validation
    n_workers = cfg.num_workers if workers is None else workers
    # the caller's threads are given back after (a study fine-tunes and evaluates next)
    with torch_threads(_worker_share(dev, dist, n_workers)):
        stream = StreamConfig.of(preset)  # the stream's plain data, resolved once
        source = (
            DiskSource(data, stream, len(recipe.label_names))
            if data is not None
            else SyntheticSource(recipe, stream, dev if dev.type == "cuda" else "cpu")
        )
        if dist.main and getattr(source, "note", None):
            print(source.note)  # volumes smaller than the patch: one announced line
        data = _micro_batches(stream, source, run.start * cfg.grad_accum, dist, dev, n_workers)
        validator = Validator(preset, recipe, dev) if dist.main and cfg.val_volumes > 0 else None
        task = Task(
            name="pretrain",
            cfg=cfg,
            model=make_model(preset, recipe).to(dev),
            data=data,
            close=data.close,
            validate=validator,
            extra_state=lambda: {"task": cfg.task, "label_names": recipe.label_names},
            classification=cfg.task == "classification",
        )
        result = fit(task, run, dist, dev, max_steps=max_steps, progress=progress)
        if validator and result.finished and validator.last_pred is not None:
            result.preview = validator.preview(run.run_dir / PREVIEW)
        return result


def _micro_batches(
    stream: StreamConfig, source, start: int, dist: Dist, dev: torch.device, workers: int
) -> Generator[MicroBatch, None, None]:
    """The stream's micro-batches from ``start`` on, with the volumes they came from (sample
    index or file); the stream starts at the first ``next`` (once ``fit`` is set up)."""
    it, close = batches(stream, source, start, dist.rank, dist.world, dev, workers)
    try:
        for b in it:
            names = [source.name(train_index(stream, p)) for p in b.indices]
            yield MicroBatch(b.image, b.target, names)
    finally:
        close()


def _worker_share(dev: torch.device, dist: Dist, n_workers: int) -> int | None:
    """Torch threads that leave DataLoader workers their cores (oversubscribed OpenMP
    threads spin and crawl); None: torch's number unchanged (GPU, no workers, or
    ``OMP_NUM_THREADS`` set)."""
    if dev.type == "cpu" and n_workers and "OMP_NUM_THREADS" not in os.environ:
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1
        return max(1, cores // max(dist.world, 1) - n_workers)
    return None
