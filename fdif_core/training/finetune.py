"""Fine-tuning on a real labelled dataset, from scratch or from pre-trained weights.

The preset's ``finetune:`` section holds the recipe. The run: plan the preprocessing on the
fold's training cases, cache the preprocessed cases, build the network (seeded by the preset
seed), transfer the pre-trained tensors whose name and shape match (the output head is
re-initialised for the dataset's classes), optionally keep the encoder frozen for the first
steps, then train with DiceCE, AdamW (or nnU-Net's SGD), warm-up + cosine/poly decay, AMP,
gradient clipping and DDP under ``torchrun``. Checkpoints (``last.pt``, ``best.pt``) carry
the preprocessing plan, so ``fdif-core evaluate`` reproduces it exactly. Item ``i`` of the
patch stream is a pure function of (seed, i) and every RNG is checkpointed: a resumed run
repeats an uninterrupted one step for step on the CPU.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import torch

from ..errors import UserError
from ..io import atomic
from ..presets.finetune import FinetuneConfig
from ..presets.preset import Preset, load_preset
from ..real.datalist import load_dataset
from ..real.patches import PatchStream, cached_cases
from ..real.preprocess import Plan, augment_transforms, make_plan, preprocess_transforms
from ..real.splits import fold_cases
from .checkpoints import (
    load_checkpoint,
    new_run_dir,
    save_checkpoint,
    set_rng_state,
    training_state,
)
from .networks import NETWORKS, build_network
from .pretrain import JsonLog, TrainingError, init_distributed
from .transfer import TransferReport, head_keys, transfer_weights

LAST, BEST, PRESET, RUN_INFO, LOG = "last.pt", "best.pt", "preset.yaml", "run.json", "log.jsonl"
TASK = "finetune"


@dataclass
class FinetuneResult:
    """What a (partial) fine-tuning call left behind."""

    run_dir: Path
    step: int
    finished: bool = False
    losses: dict[int, float] = field(default_factory=dict)
    val: dict[int, float] = field(default_factory=dict)
    best_val: float | None = None
    transfer: TransferReport | None = None
    checkpoint: Path | None = None
    train_cases: list[str] = field(default_factory=list)
    val_cases: list[str] = field(default_factory=list)


def finetune_config(preset: Preset, source: str = "preset") -> FinetuneConfig:
    """The preset's ``finetune:`` section, or a one-line error if it has none."""
    if preset.finetune is None:
        raise UserError(
            f"{source}: no finetune: section; use one of presets/finetune/*.yaml "
            "(e.g. --preset finetune/quick)"
        )
    return preset.finetune


def lr_factor(step: int, *, kind: str, warmup: int, total: int) -> float:
    """Learning-rate multiplier: linear warm-up, then cosine / poly(0.9) / constant."""
    if step < warmup:
        return (step + 1) / (warmup + 1)
    t = (step - warmup) / max(1, total - warmup)
    if kind == "cosine":
        return 0.5 * (1.0 + math.cos(math.pi * min(t, 1.0)))
    if kind == "poly":
        return max(0.0, 1.0 - t) ** 0.9
    return 1.0


def make_optimizer(model: torch.nn.Module, cfg: FinetuneConfig) -> torch.optim.Optimizer:
    if cfg.optimizer == "sgd":
        return torch.optim.SGD(
            model.parameters(),
            lr=cfg.lr,
            momentum=0.99,
            nesterov=True,
            weight_decay=cfg.weight_decay,
        )
    return torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)


def make_loss(cfg: FinetuneConfig):
    from monai.losses import DiceCELoss, DiceLoss

    if cfg.loss == "ce":
        ce = torch.nn.CrossEntropyLoss()
        return lambda out, y: ce(out, y[:, 0])
    if cfg.loss == "dice":
        return DiceLoss(to_onehot_y=True, softmax=True)
    return DiceCELoss(to_onehot_y=True, softmax=True)


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


def _network(cfg: FinetuneConfig, ds_channels: int, ds_classes: int) -> torch.nn.Module:
    return build_network(cfg.model, ds_classes, cfg.patch_size, cfg.model_kwargs, ds_channels)


class _Sampler(torch.utils.data.Sampler):
    """Stream positions of one rank from step ``start`` to ``end``."""

    def __init__(self, start: int, end: int, batch: int, rank: int, world: int) -> None:
        self.idx = [(s * world + rank) * batch + b for s in range(start, end) for b in range(batch)]

    def __iter__(self):
        return iter(self.idx)

    def __len__(self) -> int:
        return len(self.idx)


def _prepare(
    dataset: str | Path | None,
    preset: Preset | None,
    weights: str | Path | None,
    fold: int | str,
    out: str | Path | None,
    resume: str | Path | None,
) -> tuple[Preset, Path, dict[str, Any], dict[str, Any] | None]:
    """Run folder, preset, run info (dataset, fold, weights) and the resume state."""
    if resume is not None:
        run_dir = Path(resume)
        if not (run_dir / LAST).is_file() or not (run_dir / RUN_INFO).is_file():
            raise UserError(f"--resume: {run_dir} holds no {LAST} / {RUN_INFO} to resume from")
        state = load_checkpoint(run_dir / LAST)
        info = json.loads((run_dir / RUN_INFO).read_text())
        saved = load_preset(run_dir / PRESET)
        if preset is not None and preset.hash() != saved.hash():
            raise UserError(
                f"--resume: {run_dir} was fine-tuned with another preset; resume without "
                "--preset or start a new --out"
            )
        if state.get("preset_hash") != saved.hash():
            raise UserError(f"--resume: {run_dir / LAST} does not belong to {run_dir / PRESET}")
        return saved, run_dir, info, state
    if dataset is None or out is None or preset is None:
        raise UserError("finetune: give --dataset D --out RUN (or --resume RUN)")
    run_dir = new_run_dir(out, LAST)
    info = {
        "dataset": str(Path(dataset).resolve()),
        "fold": fold,
        "weights": str(Path(weights).resolve()) if weights else None,
    }
    return preset, run_dir, info, None


def finetune(
    dataset: str | Path | None = None,
    preset: Preset | None = None,
    out: str | Path | None = None,
    *,
    weights: str | Path | None = None,
    fold: int | str = 0,
    resume: str | Path | None = None,
    device: str | torch.device = "cpu",
    cache_dir: str | Path | None = None,
    workers: int | None = None,
    max_steps: int | None = None,
    progress: bool = True,
    log_fn=print,
) -> FinetuneResult:
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
    """
    preset, run_dir, info, state = _prepare(dataset, preset, weights, fold, out, resume)
    cfg = finetune_config(preset)
    NETWORKS.get(cfg.model).check_patch(cfg.patch_size, cfg.model_kwargs)
    dist_info, dev = init_distributed(torch.device(device))
    say = log_fn if dist_info.main else (lambda *_: None)
    ds = load_dataset(info["dataset"])
    train_ids, val_ids = fold_cases(ds, info["fold"], run_dir if dist_info.main else None)
    if state is not None:
        plan = Plan.from_dict(state["plan"])
    else:
        pp = cfg.preprocess
        plan = make_plan(
            ds,
            train_ids,
            spacing=pp.spacing,
            normalization=pp.normalization,
            ct_window=pp.ct_window,
            crop_foreground=pp.crop_foreground,
        )
    say(f"dataset: {ds.describe()}")
    say(
        f"fold {info['fold']}: {len(train_ids)} training, {len(val_ids)} validation cases; "
        f"spacing {tuple(round(s, 3) for s in plan.spacing)} mm, {plan.normalization} "
        "normalisation"
    )

    cache_root = Path(cache_dir) if cache_dir else run_dir / "cache"
    transform = preprocess_transforms(plan)
    mode = cfg.preprocess.cache
    t0 = time.perf_counter()
    train_cases = cached_cases(
        ds.datalist(train_ids), transform, mode=mode, cache_dir=cache_root / plan.digest()
    )
    val_cases = (
        cached_cases(
            ds.datalist(val_ids), transform, mode=mode, cache_dir=cache_root / plan.digest()
        )
        if val_ids
        else None
    )
    say(
        f"preprocessed and cached {len(train_ids) + len(val_ids)} cases in "
        f"{time.perf_counter() - t0:.1f} s ({mode} cache)"
    )

    torch.manual_seed(preset.seed)
    model = _network(cfg, len(ds.channels), ds.num_classes)
    report = None
    source = info.get("weights")
    if state is None and source:
        src, src_name, src_task = pretrained_state(source)
        head = head_keys(cfg.model, cfg.patch_size, cfg.model_kwargs, len(ds.channels))
        scope = NETWORKS.get(cfg.model).encoder_keys if src_task == "classification" else None
        report = transfer_weights(
            model,
            src,
            head,
            min_fraction=cfg.min_transferred,
            scope=scope,
            source_name=f"--weights {source} ({src_name} -> {cfg.model})",
        )
        if scope:
            say("weights: a classification pre-training: encoder only, decoder from scratch")
        say(f"weights {source}: {report.summary()}")
    elif state is None:
        say("weights: none (training from scratch)")
    model = model.to(dev)
    opt = make_optimizer(model, cfg)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, partial(lr_factor, kind=cfg.schedule, warmup=cfg.warmup_steps, total=cfg.iterations)
    )
    dtype = {"off": None, "bf16": torch.bfloat16, "fp16": torch.float16}[cfg.amp]
    scaler = torch.amp.GradScaler(dev.type, enabled=dtype == torch.float16)
    loss_fn = make_loss(cfg)
    start, best = 0, None
    if state is not None:
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        sched.load_state_dict(state["scheduler"])
        if state.get("scaler"):
            scaler.load_state_dict(state["scaler"])
        set_rng_state(state["rng"])
        start, best = int(state["step"]), state.get("best_val")
    elif dist_info.main:
        atomic.write_text(run_dir / PRESET, preset.to_yaml())
        atomic.write_text(run_dir / RUN_INFO, json.dumps(info, indent=2))
    freeze = cfg.freeze_encoder_steps if source else 0

    net: torch.nn.Module = model
    if dist_info.world > 1:
        from torch.nn.parallel import DistributedDataParallel

        # unused parameters: the U-Nets' lower-resolution seg_layers (deep supervision off)
        # and the frozen encoder during the warm-up
        net = DistributedDataParallel(
            model,
            device_ids=[dev.index] if dev.type == "cuda" else None,
            find_unused_parameters=True,
        )

    aug = cfg.augment
    stream = PatchStream(
        train_cases,
        augment_transforms(
            cfg.patch_size,
            crops=aug.crops_per_volume,
            pos=aug.pos,
            neg=aug.neg,
            flip_prob=aug.flip_prob,
            rot90_prob=aug.rot90_prob,
            rotate_deg=aug.rotate_deg,
            rotate_prob=aug.rotate_prob,
            scale_intensity=aug.scale_intensity,
            shift_intensity=aug.shift_intensity,
            intensity_prob=aug.intensity_prob,
        ),
        length=cfg.iterations * cfg.batch_size * dist_info.world,
        seed=preset.seed,
    )
    end = cfg.iterations if max_steps is None else min(cfg.iterations, start + max_steps)
    n_workers = cfg.num_workers if workers is None else workers
    loader = torch.utils.data.DataLoader(
        stream,
        batch_size=cfg.batch_size,
        sampler=_Sampler(start, end, cfg.batch_size, dist_info.rank, dist_info.world),
        num_workers=n_workers,
        generator=torch.Generator(),  # leave the global RNG alone (resume equivalence)
    )

    log = writer = bar = None
    if dist_info.main:
        log = JsonLog(run_dir / LOG, keep_until=start if state is not None else None)
        from torch.utils.tensorboard import SummaryWriter

        writer = SummaryWriter(str(run_dir / "tb"), purge_step=start if start else None)
        if progress:
            from tqdm import tqdm

            bar = tqdm(total=cfg.iterations, initial=start, desc="finetune", unit="it")

    result = FinetuneResult(
        run_dir, start, best_val=best, transfer=report, train_cases=train_ids, val_cases=val_ids
    )

    def checkpoint(step: int, path: Path) -> None:
        save_checkpoint(
            path,
            {
                **training_state(model, opt, sched, scaler, step, preset),
                "model_name": cfg.model,
                "model_kwargs": dict(cfg.model_kwargs),
                "task": TASK,
                "label_names": list(plan.labels),
                "in_channels": len(ds.channels),
                "out_channels": ds.num_classes,
                "patch_size": list(cfg.patch_size),
                "plan": plan.to_dict(),
                "fold": str(info["fold"]),
                "sw_overlap": cfg.sw_overlap,
                "sw_batch_size": cfg.sw_batch_size,
                "amp": cfg.amp,
                "weights": source or "",
                "best_val": result.best_val,
            },
        )

    def validate() -> float | None:
        if val_cases is None:
            return None
        return validation_dice(model, val_cases, plan, cfg, dev, dtype)

    model.train()
    frozen = False
    step = start
    try:
        for step, batch in zip(range(start, end), loader, strict=False):
            want_frozen = step < freeze
            if want_frozen != frozen:
                n = set_encoder_frozen(model, cfg.model, want_frozen)
                frozen = want_frozen
                if frozen:
                    say(f"encoder frozen for the first {freeze} steps ({n} tensors)")
            t_step = time.perf_counter()
            x = batch["image"].flatten(0, 1).to(dev, non_blocking=True)
            y = batch["label"].flatten(0, 1).to(dev, non_blocking=True)
            opt.zero_grad(set_to_none=True)
            with torch.autocast(dev.type, dtype=dtype or torch.float32, enabled=bool(dtype)):
                out = net(x)
            loss = loss_fn(out.float(), y)
            scaler.scale(loss).backward()
            value = float(loss.detach())
            if not math.isfinite(value):
                kept = (
                    f"last good checkpoint: {run_dir / LAST}"
                    if (run_dir / LAST).exists()
                    else "no checkpoint yet"
                )
                raise TrainingError(
                    f"step {step + 1}: the loss is {value} (not finite), run stopped; {kept}; "
                    "try a lower finetune.lr, grad_clip or amp: bf16"
                )
            if cfg.grad_clip is not None:
                scaler.unscale_(opt)
                torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
            scaler.step(opt)
            scaler.update()
            sched.step()
            done = step + 1
            result.losses[done] = value
            result.step = done
            if not dist_info.main:
                continue
            assert log is not None and writer is not None
            lr = opt.param_groups[0]["lr"]
            dt = time.perf_counter() - t_step
            log.write(step=done, loss=value, lr=lr, step_s=dt)
            writer.add_scalar("train/loss", value, done)
            writer.add_scalar("train/lr", lr, done)
            if bar is not None:
                bar.set_postfix(loss=f"{value:.4f}")
                bar.update(1)
            at_end = done == cfg.iterations
            if (cfg.val_interval and done % cfg.val_interval == 0) or at_end:
                v = validate()
                if v is not None:
                    result.val[done] = v
                    log.write(step=done, val_dice=v)
                    writer.add_scalar("val/dice", v, done)
                    if result.best_val is None or v > result.best_val:
                        result.best_val = v
                        checkpoint(done, run_dir / BEST)
            if done % cfg.checkpoint_interval == 0 or done == end:
                checkpoint(done, run_dir / LAST)
    finally:
        if bar is not None:
            bar.close()
        if writer is not None:
            writer.close()
        if log is not None:
            log.close()
    result.finished = result.step >= cfg.iterations
    result.checkpoint = run_dir / LAST
    if dist_info.main and result.finished and val_cases is None:
        checkpoint(result.step, run_dir / BEST)  # no validation: the last model is the one
    return result


@torch.no_grad()
def validation_dice(
    model: torch.nn.Module,
    cases: Any,
    plan: Plan,
    cfg: FinetuneConfig,
    dev: torch.device,
    dtype: torch.dtype | None,
) -> float:
    """Mean foreground Dice over cached validation cases (preprocessed space, sliding window)."""
    from monai.metrics import compute_dice
    from monai.networks.utils import one_hot

    from ..evaluation.evaluate import Predictor

    was = model.training
    amp = {torch.bfloat16: "bf16", torch.float16: "fp16"}.get(dtype, "off")
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
