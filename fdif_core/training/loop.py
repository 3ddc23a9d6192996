"""The one training loop: ``fit(task, run)`` for pre-training and fine-tuning alike.

A :class:`Task` brings the model, its micro-batches and hooks (validation, extra checkpoint
fields, a before-step hook); the loop owns the rest: loss, optimiser, schedule and AMP
(``optim.py``), resume, DDP, gradient accumulation, the non-finite checks agreed by all
ranks, the JSON log, TensorBoard, the progress bar, checkpoints (every N steps, at the end,
the best validation score) and SIGINT/SIGTERM (checkpoint at the current step, then stop).
"""

from __future__ import annotations

import math
import signal
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, nullcontext, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from ..errors import UserError
from ..io.checkpoints import save_checkpoint, set_rng_state, training_state
from ..presets.training import TrainConfig
from .distributed import Dist, max_over_ranks, wrap_ddp
from .optim import Amp, make_loss, make_optimizer, make_scheduler
from .rundir import BEST, LAST, LOG, JsonLog, Run

MAX_SKIPPED = 50  # steps in a row without finite gradients before the run gives up


class TrainingError(UserError):
    """The run cannot go on (a non-finite loss); the message is one line."""


class TrainingInterrupted(Exception):
    """SIGINT / SIGTERM: a checkpoint was written at ``step`` and the run stopped."""

    def __init__(self, run_dir: Path, step: int, signum: int) -> None:
        super().__init__(f"{signal.Signals(signum).name}: stopped at step {step}")
        self.run_dir, self.step, self.signum = run_dir, step, signum


@dataclass
class MicroBatch:
    """Network input (N, C, *patch), target, and where each volume came from (for messages)."""

    image: torch.Tensor
    target: torch.Tensor
    names: Sequence[str] = ()


@dataclass
class Task:
    """What a training task gives :func:`fit`.

    Attributes:
        name: ``pretrain`` or ``finetune`` (progress bar, preset section in messages).
        cfg: the task's section of the preset.
        model: the network (on the device, weights initialised or transferred).
        data: endless micro-batches from the resume step on (``grad_accum`` per step).
        close: stops the data workers.
        validate: rank 0, (model, amp) -> scores, the first one ranks checkpoints.
        extra_state: fields added to every checkpoint.
        before_step: called with the step index before it runs (encoder freezing).
        classification: the loss is CE on one class per volume.
    """

    name: str
    cfg: TrainConfig
    model: torch.nn.Module
    data: Iterator[MicroBatch]
    close: Callable[[], None] = lambda: None
    validate: Callable[[torch.nn.Module, Amp], dict[str, float]] | None = None
    extra_state: Callable[[], dict[str, Any]] = dict
    before_step: Callable[[int], None] | None = None
    classification: bool = False


@dataclass
class RunResult:
    """What a (partial) run left behind; fine-tuning fills ``transfer`` and the case lists."""

    run_dir: Path
    step: int
    finished: bool = False
    losses: dict[int, float] = field(default_factory=dict)
    val: dict[int, float] = field(default_factory=dict)
    scores: dict[str, float] = field(default_factory=dict)  # the last validation's scores
    best_val: float | None = None
    checkpoint: Path | None = None
    preview: Path | None = None
    data_wait_s: float = 0.0
    step_s: float = 0.0
    skipped_steps: int = 0
    model: torch.nn.Module | None = None
    transfer: Any = None
    train_cases: list[str] = field(default_factory=list)
    val_cases: list[str] = field(default_factory=list)


class _Monitor:
    """Rank 0's outputs: the JSON log, TensorBoard scalars and the progress bar."""

    def __init__(self, run: Run, task: Task, progress: bool) -> None:
        from torch.utils.tensorboard import SummaryWriter

        start = run.start
        self.log = JsonLog(run.run_dir / LOG, keep_until=start)  # a new run: an empty log
        self._hook = threading.excepthook
        threading.excepthook = self._quiet_tb_thread
        self.tb_dir = run.run_dir / "tb"
        try:
            with self._tb_errors():
                self.tb = SummaryWriter(str(self.tb_dir), purge_step=start or None)
        except UserError:
            self.log.close()
            threading.excepthook = self._hook
            raise
        self.bar = None
        if progress:
            from tqdm import tqdm

            self.bar = tqdm(total=task.cfg.iterations, initial=start, desc=task.name, unit="it",
                            dynamic_ncols=True)  # fmt: skip

    @contextmanager
    def _tb_errors(self) -> Iterator[None]:
        """TensorBoard's writes (a full disk) as one line."""
        try:
            yield
        except OSError as err:
            raise UserError(f"{self.tb_dir}: cannot write ({err.strerror or err})") from None

    def _quiet_tb_thread(self, args: threading.ExceptHookArgs) -> None:
        """TensorBoard's writer thread hands its write error to the next call in the training
        thread (``_tb_errors``); its own traceback print is left out."""
        if not (issubclass(args.exc_type, OSError) and "Writer" in type(args.thread).__name__):
            self._hook(args)

    def step(self, done: int, **row: float) -> None:
        self.log.write(step=done, **row)
        with self._tb_errors():
            for key in ("loss", "lr"):
                self.tb.add_scalar(f"train/{key}", row[key], done)
            for key in ("step_s", "data_wait_s"):
                self.tb.add_scalar(f"time/{key}", row[key], done)
        if self.bar is not None:
            wait = 100 * row["data_wait_s"] / max(row["step_s"], 1e-9)
            self.bar.set_postfix(loss=f"{row['loss']:.4f}", wait=f"{wait:.0f}%")
            self.bar.update(1)

    def scores(self, done: int, scores: dict[str, float]) -> None:
        self.log.write(step=done, **scores)
        with self._tb_errors():
            for key, value in scores.items():
                self.tb.add_scalar(f"val/{key.removeprefix('val_')}", value, done)
        if self.bar is not None:
            self.bar.write(f"step {done}: " + ", ".join(f"{k} {v:.4f}" for k, v in scores.items()))

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
        with suppress(OSError):  # a full disk: the scalars are also in the JSON log
            self.tb.close()
        self.log.close()
        threading.excepthook = self._hook


REPEAT_S = 2.0  # a second Ctrl-C later than this interrupts without the checkpoint


@contextmanager
def _signals_stop(flag: list[int]) -> Iterator[None]:
    """SIGINT / SIGTERM set ``flag[0]`` (the loop stops after the step in flight); the same
    signal again interrupts at once. (Ctrl-C under ``torchrun`` brings each rank a SIGINT,
    then the launcher's SIGTERM: that one does not cut the checkpoint short.)"""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    first = [0.0]

    def handler(signum: int, frame: Any) -> None:
        # The same stop often arrives twice: to the process group and again from a
        # launcher forwarding it (torchrun, srun). Only a second Ctrl-C a while after the
        # first interrupts at once; a repeated SIGTERM waits for the checkpoint.
        now = time.monotonic()
        if flag[0] == signal.SIGINT == signum and now - first[0] > REPEAT_S:
            raise KeyboardInterrupt
        if not flag[0]:
            flag[0], first[0] = signum, now

    sigs = (signal.SIGINT, signal.SIGTERM)
    old = {s: signal.signal(s, handler) for s in sigs}
    try:
        yield
    finally:
        for s, h in old.items():
            signal.signal(s, h)


class _Loop:
    """The state of one :func:`fit` call; its methods are the parts of a step."""

    def __init__(self, task: Task, run: Run, dist: Dist, device: torch.device) -> None:
        cfg = task.cfg
        self.task, self.run, self.dist, self.dev, self.cfg = task, run, dist, device, cfg
        self.model = task.model
        self.opt = make_optimizer(self.model, cfg)
        self.sched = make_scheduler(self.opt, cfg)
        self.amp = Amp(cfg.amp, device)
        self.loss_fn = make_loss(cfg, task.classification)
        self.result = RunResult(run.run_dir, run.start, model=self.model)
        if run.state is not None:
            self._restore(run.state)
        self.net = wrap_ddp(self.model, dist, device)
        self.signal = [0]  # set by SIGINT / SIGTERM on this rank
        self.stopping = 0  # the signal all ranks agreed on: stop after this step
        self.skipped_in_a_row = 0

    def _restore(self, state: dict[str, Any]) -> None:
        self.model.load_state_dict(state["model"])
        self.opt.load_state_dict(state["optimizer"])
        self.sched.load_state_dict(state["scheduler"])
        if state.get("scaler"):
            self.amp.scaler.load_state_dict(state["scaler"])
        set_rng_state(state["rng"])
        self.result.best_val = state.get("best_val")
        self.result.skipped_steps = int(state.get("skipped_steps", 0))

    def checkpoint(self, done: int, path: Path) -> None:
        save_checkpoint(
            path,
            {
                **training_state(
                    self.model, self.opt, self.sched, self.amp.scaler, done, self.run.preset
                ),
                "model_name": self.cfg.model,
                "best_val": self.result.best_val,
                "skipped_steps": self.result.skipped_steps,
                "run_info": self.run.info,
                **self.task.extra_state(),
            },
        )
        self.result.checkpoint = self.run.run_dir / LAST

    def forward_backward(self, step: int) -> tuple[float, float, list[MicroBatch]]:
        """The micro-batches of one step: (summed loss, data wait, the batches)."""
        accum = self.cfg.grad_accum
        loss_sum, wait, seen = 0.0, 0.0, []
        self.opt.zero_grad(set_to_none=True)
        for micro in range(accum):
            tw = time.perf_counter()
            batch = next(self.task.data)
            x = batch.image.to(self.dev, non_blocking=True)
            y = batch.target.to(self.dev, non_blocking=True)
            wait += time.perf_counter() - tw
            seen.append(MicroBatch(x, y, batch.names))
            sync = micro == accum - 1 or self.dist.world == 1
            with nullcontext() if sync else self.net.no_sync():  # type: ignore[operator]
                with self.amp.autocast():
                    out = self.net(x)
                loss = self.loss_fn(out.float(), y) / accum
                self.amp.backward(loss)
            loss_sum += float(loss.detach())
        return loss_sum, wait, seen

    def agree(self, step: int, loss: float, batches: list[MicroBatch]) -> None:
        """All ranks stop together on a non-finite loss, naming the likely cause."""
        cause = (0, "") if math.isfinite(loss) else self._cause(batches)
        flags = [float(cause[0]), float(self.signal[0])]
        worst, self.stopping = (int(v) for v in max_over_ranks(flags, self.dist, self.dev))
        if not worst:
            return
        detail = (cause[1] if cause[0] == worst else _OTHER_RANK[worst]).replace(
            "{task}", self.task.name
        )
        value = f"{loss} (not finite)" if cause[0] else "not finite on another rank"
        last = self.run.run_dir / LAST
        kept = f"last good checkpoint: {last}" if last.exists() else "no checkpoint yet"
        raise TrainingError(f"step {step + 1}: the loss is {value}, run stopped; {detail}; {kept}")

    def _cause(self, batches: list[MicroBatch]) -> tuple[int, str]:
        """(3, data) if an input voxel is not finite, (2, weights), else (1, learning rate)."""
        for b in batches:
            bad = ~torch.isfinite(b.image.flatten(1)).all(1)
            if bool(bad.any()):
                i = int(bad.nonzero()[0])
                names = list(b.names)
                where = names[i * len(names) // len(bad)] if names else f"volume {i} of the batch"
                return 3, f"the input has non-finite voxels (data: {where})"
        if not all(bool(torch.isfinite(p).all()) for p in self.model.parameters()):
            return 2, "the network weights are not finite (check the weights it started from)"
        return 1, _OTHER_RANK[1]

    def update(self, step: int) -> bool:
        """Apply the gradients; a step without finite gradients is skipped (and counted)."""
        if self.amp.step(self.opt, list(self.model.parameters()), self.cfg.grad_clip):
            self.skipped_in_a_row = 0
            return True
        self.result.skipped_steps += 1
        self.skipped_in_a_row += 1
        if self.skipped_in_a_row >= MAX_SKIPPED:
            raise TrainingError(
                f"step {step + 1}: {MAX_SKIPPED} steps in a row had non-finite gradients; "
                f"try a lower {self.task.name}.lr or grad_clip"
            )
        return False

    def validate(self, done: int, monitor: _Monitor) -> None:
        if self.task.validate is None:
            return
        scores = self.task.validate(self.model, self.amp)
        if not scores:
            return
        value = next(iter(scores.values()))
        self.result.val[done] = value
        self.result.scores = scores
        monitor.scores(done, scores)
        if self.result.best_val is None or value > self.result.best_val:
            self.result.best_val = value
            self.checkpoint(done, self.run.run_dir / BEST)


_OTHER_RANK = {
    1: "inputs and weights are finite: try a lower {task}.lr, grad_clip or amp: bf16",
    2: "the network weights are not finite on another rank",
    3: "the input has non-finite voxels on another rank (data)",
}


def fit(
    task: Task,
    run: Run,
    dist: Dist,
    device: torch.device,
    *,
    max_steps: int | None = None,
    progress: bool = True,
) -> RunResult:
    """Train ``task`` in ``run`` from its step to ``iterations`` (or ``max_steps`` more).

    Raises:
        TrainingError: a non-finite loss (every rank, with the likely cause).
        TrainingInterrupted: SIGINT / SIGTERM; a checkpoint at the current step was written.
    """
    loop = _Loop(task, run, dist, device)
    cfg, result = task.cfg, loop.result
    start = run.start
    end = cfg.iterations if max_steps is None else min(cfg.iterations, start + max_steps)
    if dist.main:
        run.write_files()
    monitor = None
    timing = [0.0, 0.0]  # data wait, step time
    task.model.train()
    try:
        monitor = _Monitor(run, task, progress) if dist.main else None
        with _signals_stop(loop.signal):
            for step in range(start, end):
                _one_step(loop, step, end, monitor, timing)
                if loop.stopping:
                    raise TrainingInterrupted(run.run_dir, step + 1, loop.stopping)
    finally:
        task.close()
        if monitor is not None:
            monitor.close()
    result.finished = result.step >= cfg.iterations
    n = max(result.step - start, 1)
    result.data_wait_s, result.step_s = timing[0] / n, timing[1] / n
    result.checkpoint = run.run_dir / LAST
    if dist.main and result.finished and task.validate is None:
        loop.checkpoint(result.step, run.run_dir / BEST)  # no validation: the last is the best
    return result


def _one_step(
    loop: _Loop, step: int, end: int, monitor: _Monitor | None, timing: list[float]
) -> None:
    cfg, result = loop.cfg, loop.result
    if loop.task.before_step is not None:
        loop.task.before_step(step)
    t0 = time.perf_counter()
    loss, wait, batches = loop.forward_backward(step)
    loop.agree(step, loss, batches)
    updated = loop.update(step)
    loop.sched.step()
    done = step + 1
    dt = time.perf_counter() - t0
    timing[0] += wait
    timing[1] += dt
    result.losses[done] = loss
    result.step = done
    if monitor is None:
        return
    lr = loop.opt.param_groups[0]["lr"]
    row: dict[str, Any] = {"loss": loss, "lr": lr, "step_s": dt, "data_wait_s": wait}
    if not updated or result.skipped_steps:
        row["skipped_steps"] = result.skipped_steps
    monitor.step(done, **row)
    interval = cfg.val_interval
    if (interval and done % interval == 0) or done == cfg.iterations:
        loop.validate(done, monitor)
    if done % cfg.checkpoint_interval == 0 or done == end or loop.stopping:
        loop.checkpoint(done, loop.run.run_dir / LAST)
