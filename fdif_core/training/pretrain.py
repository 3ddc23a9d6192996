"""Pre-training loop: a network from ``NETWORKS`` on the formula-driven stream.

DiceCE (MONAI), AdamW, linear warm-up then cosine (MONAI ``WarmupCosineSchedule``), AMP
(bf16, or fp16 with a grad scaler), gradient accumulation and clipping, DDP under
``torchrun``; TensorBoard scalars, a JSON-lines log, atomic checkpoints every N steps, at the
end and for the best validation score. On the CPU a resumed run repeats an uninterrupted one
step for step: the data of step ``s`` is a pure function of (preset, s) and every RNG state
is checkpointed.
"""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from ..errors import UserError
from ..io import atomic
from ..presets.preset import Preset, load_preset
from ..synthetic.stream import DiskSource, SyntheticSource, batches, scale_image, val_indices
from .checkpoints import (
    load_checkpoint,
    new_run_dir,
    save_checkpoint,
    set_rng_state,
    training_state,
)
from .networks import NETWORKS, build_classifier, build_network

LOG = "log.jsonl"
LAST = "last.pt"
BEST = "best.pt"
PRESET = "preset.yaml"
PREVIEW = "preview.png"


class TrainingError(UserError):
    """The run cannot go on (diverged loss); the message is one line."""


@dataclass
class RunResult:
    """What a (partial) run left behind."""

    run_dir: Path
    step: int
    losses: dict[int, float] = field(default_factory=dict)
    val: dict[int, float] = field(default_factory=dict)
    best_val: float | None = None
    checkpoint: Path | None = None
    preview: Path | None = None
    data_wait_s: float = 0.0
    step_s: float = 0.0
    finished: bool = False
    model: torch.nn.Module | None = None


# --------------------------------------------------------------------------- distributed
@dataclass(frozen=True)
class Dist:
    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @property
    def main(self) -> bool:
        return self.rank == 0


def init_distributed(device: torch.device) -> tuple[Dist, torch.device]:
    """Join the process group that ``torchrun`` describes (gloo on CPU, NCCL on CUDA)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return Dist(), device
    import torch.distributed as dist

    rank, local = int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0"))
    if device.type == "cuda":
        device = torch.device("cuda", local)
        torch.cuda.set_device(device)
    if not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return Dist(rank, world, local), device


# --------------------------------------------------------------------------- parts
def make_model(preset: Preset) -> torch.nn.Module:
    """The preset's network, seeded by the preset seed (same weights on every rank)."""
    cfg = preset.pretrain
    n_labels = len(preset.recipe().label_names)
    torch.manual_seed(preset.seed)
    if cfg.task == "classification":
        return build_classifier(cfg.model, n_labels - 1, cfg.patch_size, cfg.model_kwargs)
    return build_network(cfg.model, n_labels, cfg.patch_size, cfg.model_kwargs)


def make_loss(preset: Preset) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    """DiceCE / Dice / CE over the label channels (CE on the class for classification)."""
    kind = preset.pretrain.loss
    if kind == "ce":
        ce = torch.nn.CrossEntropyLoss()
        if preset.pretrain.task == "classification":
            return ce
        return lambda out, y: ce(out, y[:, 0])
    from monai.losses import DiceCELoss, DiceLoss

    if kind == "dice":
        return DiceLoss(to_onehot_y=True, softmax=True)
    return DiceCELoss(to_onehot_y=True, softmax=True)


def amp_dtype(preset: Preset) -> torch.dtype | None:
    return {"off": None, "bf16": torch.bfloat16, "fp16": torch.float16}[preset.pretrain.amp]


def check_preset(preset: Preset) -> None:
    """Checks that need the network registry (one ``UserError`` line each)."""
    cfg = preset.pretrain
    NETWORKS.get(cfg.model).check_patch(cfg.patch_size, cfg.model_kwargs)


class JsonLog:
    """Append-only JSON lines; on resume, rows after the checkpoint step are dropped."""

    def __init__(self, path: Path, keep_until: int | None) -> None:
        self.path = path
        if keep_until is not None and path.exists():
            rows = [json.loads(x) for x in path.read_text().splitlines() if x.strip()]
            kept = [r for r in rows if r.get("step", 0) <= keep_until]
            atomic.write_text(path, "".join(json.dumps(r) + "\n" for r in kept))
        self._fh = open(path, "a")  # noqa: SIM115 (kept open for the run)

    def write(self, **row: Any) -> None:
        self._fh.write(json.dumps(row) + "\n")
        self._fh.flush()

    def close(self) -> None:
        self._fh.close()


def read_log(run_dir: str | Path) -> list[dict[str, Any]]:
    """The rows of a run's JSON-lines log."""
    text = (Path(run_dir) / LOG).read_text()
    return [json.loads(x) for x in text.splitlines() if x.strip()]


# --------------------------------------------------------------------------- validation
class Validator:
    """Fixed synthetic validation set (by preset seed): mean Dice, or accuracy."""

    def __init__(self, preset: Preset, device: torch.device) -> None:
        self.preset = preset
        self.device = device
        self.recipe = preset.recipe()
        cfg = preset.pretrain
        self.items: list[tuple[torch.Tensor, torch.Tensor]] = []
        for i in val_indices(preset):
            if cfg.task == "classification":
                img, cls = self.recipe.classification_sample(i, cfg.patch_size, device)
                self.items.append((img.cpu()[None, None], torch.tensor([cls])))
            else:  # rendered on the training device, kept on the CPU
                s = self.recipe.sample(i, device=device)
                image = scale_image(s.image, preset).cpu()
                self.items.append((image[None, None], s.label.long().cpu()))
        self.last_pred: torch.Tensor | None = None
        self.extra: dict[str, float] = {}  # secondary scores of the last call (fg_dice)

    def __bool__(self) -> bool:
        return bool(self.items)

    @torch.no_grad()
    def __call__(self, model: torch.nn.Module, dtype: torch.dtype | None) -> float:
        was_training = model.training
        model.eval()
        try:
            if self.preset.pretrain.task == "classification":
                return self._accuracy(model, dtype)
            return self._dice(model, dtype)
        finally:
            model.train(was_training)

    def _autocast(self, dtype: torch.dtype | None):
        if dtype is None:
            return nullcontext()
        return torch.autocast(self.device.type, dtype=dtype)

    def _accuracy(self, model: torch.nn.Module, dtype: torch.dtype | None) -> float:
        hits = 0
        for img, cls in self.items:
            with self._autocast(dtype):
                out = model(img.to(self.device))
            hits += int(out.argmax(1).cpu() == cls)
        return hits / len(self.items)

    def _dice(self, model: torch.nn.Module, dtype: torch.dtype | None) -> float:
        from monai.inferers import sliding_window_inference
        from monai.metrics import compute_dice
        from monai.networks.utils import one_hot

        # functional Dice (no cross-rank sync: validation runs on rank 0 only)
        n = len(self.recipe.label_names)
        scores, fg_scores = [], []
        for k, (img, lab) in enumerate(self.items):
            with self._autocast(dtype):
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
        self.extra = {"fg_dice": float(torch.nanmean(torch.cat(fg_scores)))}
        value = float(torch.nanmean(torch.cat(scores)))
        return 0.0 if math.isnan(value) else value

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
def _prepare_run_dir(
    preset: Preset | None, out: Path | None, resume: Path | None
) -> tuple[Preset, Path, dict[str, Any] | None]:
    if resume is not None:
        run_dir = Path(resume)
        ckpt_path = run_dir / LAST
        if not ckpt_path.is_file():
            raise UserError(f"--resume: {run_dir} holds no {LAST} to resume from")
        state = load_checkpoint(ckpt_path)
        saved = load_preset(run_dir / PRESET) if (run_dir / PRESET).is_file() else None
        if preset is None:
            if saved is None:
                raise UserError(f"--resume: {run_dir / PRESET} is missing; pass --preset")
            preset = saved
        if preset.hash() != state["preset_hash"]:
            raise UserError(
                f"--resume: {run_dir} was trained with another preset "
                f"(hash {state['preset_hash']}, this one {preset.hash()}); "
                "resume with the run's own preset or start a new --out"
            )
        return preset, run_dir, state
    if preset is None or out is None:
        raise UserError("pretrain: give --preset and --out (or --resume RUN_DIR)")
    run_dir = new_run_dir(out, LAST)
    return preset, run_dir, None


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
    """
    preset, run_dir, state = _prepare_run_dir(
        preset, Path(out) if out else None, Path(resume) if resume else None
    )
    check_preset(preset)
    cfg = preset.pretrain
    dist_info, dev = init_distributed(torch.device(device))
    if dev.type == "cuda":  # speed over bitwise reproducibility (promised on the CPU only)
        torch.backends.cudnn.benchmark = True
        torch.set_float32_matmul_precision("high")
    if cfg.task == "classification" and data is not None:
        raise UserError("--data: classification pre-training uses the on-the-fly stream only")

    model = make_model(preset).to(dev)
    loss_fn = make_loss(preset)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    from monai.optimizers import WarmupCosineSchedule

    sched = WarmupCosineSchedule(opt, warmup_steps=cfg.warmup_steps, t_total=cfg.iterations)
    dtype = amp_dtype(preset)
    scaler = torch.amp.GradScaler(dev.type, enabled=dtype == torch.float16)
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

    net: torch.nn.Module = model
    if dist_info.world > 1:
        from torch.nn.parallel import DistributedDataParallel

        # nnU-Net decoders keep their (unused) deep-supervision heads: find_unused_parameters
        net = DistributedDataParallel(
            model,
            device_ids=[dev.index] if dev.type == "cuda" else None,
            find_unused_parameters=True,
        )

    recipe = preset.recipe()
    if data is not None:
        source: SyntheticSource | DiskSource = DiskSource(data, preset, len(recipe.label_names))
    else:
        source = SyntheticSource(preset, dev if dev.type == "cuda" else "cpu")
    n_workers = cfg.num_workers if workers is None else workers
    if dev.type == "cpu" and n_workers and "OMP_NUM_THREADS" not in os.environ:
        # leave the workers their cores: oversubscribed OpenMP threads spin and crawl
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1
        torch.set_num_threads(max(1, cores // max(dist_info.world, 1) - n_workers))
    it, close_it = batches(
        preset, source, start * cfg.grad_accum, dist_info.rank, dist_info.world, dev, n_workers
    )
    validator = Validator(preset, dev) if dist_info.main and cfg.val_volumes > 0 else None
    log = writer = bar = None
    if dist_info.main:
        log = JsonLog(run_dir / LOG, keep_until=start if state is not None else None)
        from torch.utils.tensorboard import SummaryWriter

        writer = SummaryWriter(str(run_dir / "tb"), purge_step=start if start else None)
        if progress:
            from tqdm import tqdm

            bar = tqdm(
                total=cfg.iterations, initial=start, desc="pretrain", unit="it", dynamic_ncols=True
            )

    result = RunResult(run_dir, start, best_val=best, model=model)

    def checkpoint(step: int, path: Path) -> None:
        save_checkpoint(
            path,
            {
                **training_state(model, opt, sched, scaler, step, preset),
                "model_name": cfg.model,
                "task": cfg.task,
                "label_names": recipe.label_names,
                "best_val": result.best_val,
            },
        )
        result.checkpoint = run_dir / LAST

    end = cfg.iterations if max_steps is None else min(cfg.iterations, start + max_steps)
    model.train()
    wait_total = step_total = 0.0
    step = start
    try:
        for step in range(start, end):
            t0 = time.perf_counter()
            wait = 0.0
            loss_sum = 0.0
            opt.zero_grad(set_to_none=True)
            for micro in range(cfg.grad_accum):
                tw = time.perf_counter()
                batch = next(it)
                x = batch.image.to(dev, non_blocking=True)
                y = batch.target.to(dev, non_blocking=True)
                wait += time.perf_counter() - tw
                sync = micro == cfg.grad_accum - 1 or dist_info.world == 1
                ctx = nullcontext() if sync else net.no_sync()  # type: ignore[operator]
                with ctx:
                    with torch.autocast(
                        dev.type, dtype=dtype or torch.float32, enabled=bool(dtype)
                    ):
                        out = net(x)
                    loss = loss_fn(out.float(), y) / cfg.grad_accum
                    scaler.scale(loss).backward()
                loss_sum += float(loss.detach())
            if not _all_finite(loss_sum, dist_info, dev):
                last = run_dir / LAST
                kept = f"last good checkpoint: {last}" if last.exists() else "no checkpoint yet"
                raise TrainingError(
                    f"step {step + 1}: the loss is {loss_sum} (not finite), run stopped; {kept}; "
                    "try a lower pretrain.lr, grad_clip or amp: bf16"
                )
            if cfg.grad_clip is not None:
                scaler.unscale_(opt)
                torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
            scaler.step(opt)
            scaler.update()
            sched.step()
            done = step + 1
            dt = time.perf_counter() - t0
            wait_total += wait
            step_total += dt
            result.losses[done] = loss_sum
            result.step = done
            if dist_info.main:
                lr = opt.param_groups[0]["lr"]
                assert log is not None and writer is not None
                log.write(step=done, loss=loss_sum, lr=lr, step_s=dt, data_wait_s=wait)
                writer.add_scalar("train/loss", loss_sum, done)
                writer.add_scalar("train/lr", lr, done)
                writer.add_scalar("time/step_s", dt, done)
                writer.add_scalar("time/data_wait_s", wait, done)
                if bar is not None:
                    bar.set_postfix(loss=f"{loss_sum:.4f}", wait=f"{100 * wait / dt:.0f}%")
                    bar.update(1)
                if validator and (done % cfg.val_interval == 0 or done == cfg.iterations):
                    value = validator(model, dtype)
                    key = "val_acc" if cfg.task == "classification" else "val_dice"
                    result.val[done] = value
                    log.write(step=done, **{key: value}, **validator.extra)
                    writer.add_scalar(f"val/{key[4:]}", value, done)
                    for name, extra in validator.extra.items():
                        writer.add_scalar(f"val/{name}", extra, done)
                    if bar is not None:
                        more = "".join(f", {k} {v:.4f}" for k, v in validator.extra.items())
                        bar.write(f"step {done}: {key} {value:.4f}{more}")
                    if result.best_val is None or value > result.best_val:
                        result.best_val = value
                        checkpoint(done, run_dir / BEST)
                if done % cfg.checkpoint_interval == 0 or done == end:
                    checkpoint(done, run_dir / LAST)
    finally:
        close_it()
        if bar is not None:
            bar.close()
        if writer is not None:
            writer.close()
        if log is not None:
            log.close()
    result.finished = result.step >= cfg.iterations
    n = max(result.step - start, 1)
    result.data_wait_s, result.step_s = wait_total / n, step_total / n
    if dist_info.main:
        result.checkpoint = run_dir / LAST
        if validator and result.finished and validator.last_pred is not None:
            result.preview = validator.preview(run_dir / PREVIEW)
    return result


def _all_finite(value: float, dist_info: Dist, dev: torch.device) -> bool:
    ok = math.isfinite(value)
    if dist_info.world > 1:
        import torch.distributed as dist

        flag = torch.tensor([0.0 if ok else 1.0], device=dev)
        dist.all_reduce(flag)
        ok = bool(flag.item() == 0.0)
    return ok
