"""Fine-tuning on a real labelled dataset, from scratch or from pre-trained weights.

What is fine-tuning's own (the loop is ``fit``): plan the preprocessing on the fold's
training cases, cache the preprocessed cases, build the network (seeded by the preset seed),
transfer the pre-trained tensors whose name and shape match (the output head is
re-initialised for the dataset's classes), keep the encoder frozen for the first steps if
asked, and validate with a sliding window on the fold's validation cases. Checkpoints carry
the preprocessing plan, so ``fdif-core evaluate`` reproduces it exactly. Item ``i`` of the
patch stream is a pure function of (seed, i) and every RNG is checkpointed: a resumed run
repeats an uninterrupted one step for step on the CPU.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Generator
from pathlib import Path
from typing import Any

import torch

from ..errors import ArgumentError, UserError
from ..io.checkpoints import load_checkpoint
from ..networks import NETWORKS, build_network
from ..presets.finetune import FinetuneConfig
from ..presets.preset import Preset
from ..real.datalist import load_dataset
from ..real.patches import PatchStream, cached_cases, padding_note
from ..real.preprocess import Plan, augment_transforms, make_plan, preprocess_transforms
from ..real.splits import fold_cases
from ..synthetic.stream import quiet_worker
from .distributed import Dist, init_distributed
from .loop import MicroBatch, RunResult, Task, fit
from .rundir import Run, open_run
from .transfer import TransferReport, head_keys, transfer_weights

TASK = "finetune"


def finetune_config(preset: Preset, source: str = "preset") -> FinetuneConfig:
    """The preset's ``finetune:`` section, or a one-line error if it has none."""
    if preset.finetune is None:
        raise UserError(
            f"{source}: no finetune: section; use one of presets/finetune/*.yaml "
            "(e.g. finetune/quick)"
        )
    return preset.finetune


def set_encoder_frozen(model: torch.nn.Module, name: str, frozen: bool) -> int:
    """Freeze (or unfreeze) the encoder sub-modules of network ``name``; returns tensors."""
    n = 0
    for key in NETWORKS.get(name).encoder_keys:
        for p in getattr(model, key).parameters():
            p.requires_grad_(not frozen)
            n += 1
    return n


def pretrained_state(path: str | Path) -> tuple[dict[str, torch.Tensor], str, str]:
    """Model tensors, architecture name and task of a pre-training or fine-tuning checkpoint.

    DDP (``module.``) and ``torch.compile`` (``_orig_mod.``) prefixes are removed.
    """
    state = load_checkpoint(path)
    model = state["model"]
    if not isinstance(model, dict):
        raise UserError(f"{path}: checkpoint has no model state dict")
    clean = {}
    for k, v in model.items():
        for prefix in ("module.", "_orig_mod."):
            k = k.removeprefix(prefix)
        clean[k] = v
    return clean, str(state.get("model_name", "?")), str(state.get("task", "segmentation"))


class _Sampler(torch.utils.data.Sampler):
    """Stream positions of one rank from micro-step ``start`` to ``end``."""

    def __init__(self, start: int, end: int, batch: int, rank: int, world: int) -> None:
        self.idx = [(s * world + rank) * batch + b for s in range(start, end) for b in range(batch)]

    def __iter__(self):
        return iter(self.idx)

    def __len__(self) -> int:
        return len(self.idx)


def finetune(
    dataset: str | Path | None = None,
    preset: Preset | None = None,
    out: str | Path | None = None,
    *,
    weights: str | Path | None = None,
    fold: int | str = 0,
    cache_dir: str | Path | None = None,
    resume: str | Path | None = None,
    device: str | torch.device = "cpu",
    workers: int | None = None,
    max_steps: int | None = None,
    progress: bool = True,
    log_fn: Callable[[str], Any] = print,
    val_windows: int | None = None,
) -> RunResult:
    """Fine-tune the preset's network on a dataset fold.

    Args:
        dataset: nnU-Net v2 / Decathlon folder or MONAI JSON datalist.
        preset: the recipe (its ``finetune:`` section); read from the run folder on resume.
        out: new run folder.
        weights: pre-trained checkpoint (from ``fdif-core pretrain`` or a fine-tuning run);
            None = from scratch.
        fold: 0..4 (nnU-Net 5-fold splits), ``dataset`` (its own validation list) or ``all``.
        resume: an existing run folder to continue from its ``last.pt``.
        device: ``cpu`` or ``cuda[:N]`` (each ``torchrun`` rank takes its local GPU).
        cache_dir: where preprocessed cases are cached (default ``RUN/cache``); runs on the
            same dataset and plan may share it.
        workers: DataLoader workers (default: the preset's ``num_workers``).
        max_steps: stop (checkpointed) after this many steps in this call.
        progress: tqdm progress bar on rank 0.
        log_fn: where one-line messages go (rank 0).
        val_windows: validation Dice over at most this many foreground patch tiles per case
            (:mod:`fdif_core.evaluation.tiles`, a study's cheap curve) instead of the full
            sliding window; None: the full sliding window.

    Raises:
        TrainingError: a non-finite loss; TrainingInterrupted: SIGINT / SIGTERM (saved).
    """
    if resume is None and dataset is None:
        raise ArgumentError("dataset", "give the dataset to fine-tune on (or resume a run)")
    info = None
    if resume is None:
        info = {
            "dataset": str(Path(dataset).resolve()),  # type: ignore[arg-type]
            "fold": fold,
            "weights": str(Path(weights).resolve()) if weights else None,
        }
    run = open_run(preset, out, resume, info)
    cfg = finetune_config(run.preset)
    NETWORKS.get(cfg.model).check_patch(cfg.patch_size, cfg.model_kwargs, TASK)
    dist, dev = init_distributed(torch.device(device))
    say = log_fn if dist.main else (lambda *_: None)
    data = _Data(run, cfg, dist, cache_dir, say)
    data.val_windows = val_windows
    model, report = _model(run, cfg, data, say)
    batches = data.batches(run.start, cfg.num_workers if workers is None else workers)
    task = Task(
        name=TASK,
        cfg=cfg,
        model=model.to(dev),
        data=batches,
        close=batches.close,
        validate=data.validator(dev) if data.val_cases is not None else None,
        extra_state=lambda: _checkpoint_fields(run, cfg, data),
        before_step=_freezer(model, cfg, run, say),
    )
    result = fit(task, run, dist, dev, max_steps=max_steps, progress=progress)
    result.transfer = report
    result.train_cases, result.val_cases = data.train_ids, data.val_ids
    return result


class _Data:
    """The fold's cases, preprocessed once and cached, and the patch stream over them."""

    val_windows: int | None = None

    def __init__(self, run: Run, cfg: FinetuneConfig, dist: Dist, cache_dir: Any, say) -> None:
        info = run.info
        self.cfg, self.dist, self.seed = cfg, dist, run.preset.seed
        ds = self.ds = load_dataset(info["dataset"])
        ids = fold_cases(ds, info["fold"], run.run_dir if dist.main else None)
        self.train_ids, self.val_ids = ids
        pp = cfg.preprocess
        self.plan = (
            Plan.from_dict(run.state["plan"])
            if run.state is not None
            else make_plan(ds, self.train_ids, spacing=pp.spacing, normalization=pp.normalization,
                           ct_window=pp.ct_window, crop_foreground=pp.crop_foreground)
        )  # fmt: skip
        say(f"dataset: {ds.describe()}")
        say(
            f"fold {info['fold']}: {len(self.train_ids)} training, {len(self.val_ids)} "
            f"validation cases; spacing {tuple(round(s, 3) for s in self.plan.spacing)} mm, "
            f"{self.plan.normalization} normalisation"
        )
        root = (Path(cache_dir) if cache_dir else run.run_dir / "cache") / self.plan.digest()
        transform = preprocess_transforms(self.plan)
        t0 = time.perf_counter()

        def cache(case_ids: list[str]) -> Any:
            return cached_cases(ds.datalist(case_ids), transform, mode=pp.cache, cache_dir=root)

        self.train_cases = cache(self.train_ids)
        self.val_cases = cache(self.val_ids) if self.val_ids else None
        say(
            f"preprocessed and cached {len(self.train_ids) + len(self.val_ids)} cases in "
            f"{time.perf_counter() - t0:.1f} s ({pp.cache} cache)"
        )
        note = padding_note(self.train_cases, self.cfg.patch_size)
        if note:
            say(note)

    def batches(self, start: int, workers: int) -> Generator[MicroBatch, None, None]:
        """Micro-batches of this rank from step ``start`` to the end of the schedule."""
        cfg, world, accum = self.cfg, self.dist.world, self.cfg.grad_accum
        aug = cfg.augment
        augment = augment_transforms(
            cfg.patch_size,
            crops=aug.crops_per_volume,
            **aug.model_dump(exclude={"crops_per_volume"}),
        )
        length = cfg.iterations * accum * cfg.batch_size * world
        stream = PatchStream(self.train_cases, augment, length=length, seed=self.seed)
        sampler = _Sampler(
            start * accum, cfg.iterations * accum, cfg.batch_size, self.dist.rank, world
        )
        loader = torch.utils.data.DataLoader(
            stream,
            batch_size=cfg.batch_size,
            sampler=sampler,
            num_workers=workers,
            worker_init_fn=quiet_worker,
            generator=torch.Generator(),  # leave the global RNG alone (resume equivalence)
        )
        for d in loader:
            yield MicroBatch(d["image"].flatten(0, 1), d["label"].flatten(0, 1), list(d["case"]))

    def validator(self, dev: torch.device):
        def validate(model: torch.nn.Module, amp) -> dict[str, float]:
            if self.val_windows:
                return {"val_dice": tile_validation(model, self, dev, amp.name)}
            dice = validation_dice(model, self.val_cases, self.plan, self.cfg, dev, amp.name)
            return {"val_dice": dice}

        return validate


def _model(
    run: Run, cfg: FinetuneConfig, data: _Data, say
) -> tuple[torch.nn.Module, TransferReport | None]:
    """The network, seeded by the preset seed; a new run loads the pre-trained tensors."""
    channels = len(data.ds.channels)
    torch.manual_seed(run.preset.seed)
    n_out = data.ds.num_classes
    model = build_network(cfg.model, n_out, cfg.patch_size, cfg.model_kwargs, channels, TASK)
    source = run.info.get("weights")
    if run.state is not None:
        return model, None
    if not source:
        say("weights: none (training from scratch)")
        return model, None
    src, src_name, src_task = pretrained_state(source)
    head = head_keys(cfg.model, cfg.patch_size, cfg.model_kwargs, channels)
    scope = NETWORKS.get(cfg.model).encoder_keys if src_task == "classification" else None
    report = transfer_weights(
        model,
        src,
        head,
        min_fraction=cfg.min_transferred,
        scope=scope,
        source_name=f"weights {source} ({src_name} -> {cfg.model})",
    )
    if scope:
        say("weights: a classification pre-training: encoder only, decoder from scratch")
    say(f"weights {source}: {report.summary()}")
    return model, report


def _freezer(model: torch.nn.Module, cfg: FinetuneConfig, run: Run, say):
    """Before-step hook: the encoder frozen for ``freeze_encoder_steps`` (with weights)."""
    steps = cfg.freeze_encoder_steps if run.info.get("weights") else 0
    if not steps:
        return None
    frozen = [False]

    def before(step: int) -> None:
        want = step < steps
        if want != frozen[0]:
            n = set_encoder_frozen(model, cfg.model, want)
            frozen[0] = want
            if want:
                say(f"encoder frozen for the first {steps} steps ({n} tensors)")

    return before


def _checkpoint_fields(run: Run, cfg: FinetuneConfig, data: _Data) -> dict[str, Any]:
    """What ``evaluate`` needs to rebuild the network and repeat the preprocessing."""
    return {
        "model_kwargs": dict(cfg.model_kwargs),
        "task": TASK,
        "label_names": list(data.plan.labels),
        "in_channels": len(data.ds.channels),
        "out_channels": data.ds.num_classes,
        "patch_size": list(cfg.patch_size),
        "plan": data.plan.to_dict(),
        "fold": str(run.info["fold"]),
        "sw_overlap": cfg.sw_overlap,
        "sw_batch_size": cfg.sw_batch_size,
        "amp": cfg.amp,
        "weights": run.info.get("weights") or "",
    }


@torch.no_grad()
def validation_dice(
    model: torch.nn.Module,
    cases: Any,
    plan: Plan,
    cfg: FinetuneConfig,
    dev: torch.device,
    amp: str = "off",
) -> float:
    """Mean foreground Dice over cached validation cases (preprocessed space, sliding window)."""
    from monai.metrics import compute_dice
    from monai.networks.utils import one_hot

    from ..evaluation.evaluate import Predictor

    was = model.training
    pred = Predictor(
        model, plan, tuple(cfg.patch_size), cfg.sw_overlap, cfg.sw_batch_size, dev, amp
    )
    n = len(plan.labels)
    scores = []
    for i in range(len(cases)):  # functional Dice: no cross-rank sync (rank 0 only)
        item = cases[i]
        p = pred.logits(item["image"]).argmax(0)[None, None]
        r = torch.as_tensor(item["label"]).long()[None]
        scores.append(compute_dice(one_hot(p, n), one_hot(r, n), include_background=False))
    model.train(was)
    value = float(torch.nanmean(torch.cat(scores)))
    return 0.0 if math.isnan(value) else value


def tile_validation(model: torch.nn.Module, data: _Data, dev: torch.device, amp: str) -> float:
    """Mean foreground Dice over ``data.val_windows`` patch tiles per validation case."""
    from ..evaluation.evaluate import Predictor
    from ..evaluation.tiles import tile_dice

    was = model.training
    cfg = data.cfg
    pred = Predictor(model, data.plan, tuple(cfg.patch_size), cfg.sw_overlap, 1, dev, amp)
    model.eval()
    n = len(data.plan.labels)
    assert data.val_windows
    whole = Predictor(
        model, data.plan, tuple(cfg.patch_size), cfg.sw_overlap, cfg.sw_batch_size, dev, amp
    )

    def full(item: dict[str, Any]) -> Any:  # as validation_dice scores one case
        from monai.metrics import compute_dice
        from monai.networks.utils import one_hot

        p = whole.logits(item["image"]).argmax(0)[None, None]
        r = torch.as_tensor(item["label"]).long()[None]
        return compute_dice(one_hot(p, n), one_hot(r, n), include_background=False).numpy()

    value = tile_dice(
        pred.forward, data.val_cases, tuple(cfg.patch_size), n, data.val_windows,
        cfg.sw_batch_size, full,
    )  # fmt: skip
    model.train(was)
    return value
