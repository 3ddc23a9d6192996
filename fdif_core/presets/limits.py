"""Resource limits: what a preset or a command would need, refused before it is allocated.

A preset's ``limits:`` section holds the ceilings (defaults below); ``--max-memory GIB``
on the commands that render raises the memory one for a single call. The checks run
when a preset is read (sizes) and when a command starts (memory, workers), and
``fdif-core presets validate`` runs the same ones, so a preset that validates does not
stop later on a limit.

Memory estimates are of host memory, from measured engine costs: rendering a volume
takes about :data:`RENDER_BYTES_PER_VOXEL` bytes per voxel plus
:data:`OBJECT_BYTES_PER_VOXEL` per voxel and object (the inside voxels each object
keeps), in every process that renders. Network activations (often on a GPU) are not
counted.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import Field, PositiveFloat, PositiveInt

from ..errors import UserError, arg
from .base import Strict

if TYPE_CHECKING:
    from .preset import Preset

GIB = 1 << 30
MAX_VOXELS = 512**3  # voxels of one volume or patch
MAX_OBJECTS = 1000  # objects per volume
MAX_CASES = 100_000  # cases of one generated dataset (the paper uses 5,000)
MEMORY_FRACTION = 0.8  # default memory ceiling: this share of the machine's memory
WORKERS_PER_CPU = 4  # --workers ceiling: this many per usable CPU

RENDER_BYTES_PER_VOXEL = 32  # float image, indices and points of the object boxes, labels
OBJECT_BYTES_PER_VOXEL = 1.0  # inside-voxel indices kept per object (int64, ~1/8 filled)
PROCESS_BYTES = 200 << 20  # a worker process beyond what it shares with its parent
BASE_BYTES = 1 << 30  # python, torch and the libraries in the main process
CASE_BYTES = 2048  # per case in a generate job's plan and manifest
SAMPLE_BYTES_PER_VOXEL = 12  # a training volume: float32 image + int64 label


class LimitsConfig(Strict):
    """Ceilings a run is checked against before it allocates anything."""

    max_voxels: PositiveInt = Field(
        MAX_VOXELS, description="voxels of one volume (volume.shape, --shape) or patch"
    )
    max_objects: PositiveInt = Field(MAX_OBJECTS, description="objects.per_volume")
    max_cases: PositiveInt = Field(MAX_CASES, description="cases of one generate job")
    max_memory_gib: PositiveFloat | None = Field(
        None, description="estimated host memory of a command; null = 80% of this machine's"
    )


def _fmt(n: int) -> str:
    return f"{n:,}"


def _gib(n: float) -> str:
    g = n / GIB
    return f"{g:.1f} GiB" if g >= 1 else f"{g:.2g} GiB"


def check_sizes(preset: Preset) -> str | None:
    """Why the preset's sizes exceed its limits (None when they do not)."""
    lim = preset.limits
    shape = preset.volume.shape
    if math.prod(shape) > lim.max_voxels:
        return (
            f"volume.shape {list(shape)} is {_fmt(math.prod(shape))} voxels; at most "
            f"{_fmt(lim.max_voxels)} (limits.max_voxels)"
        )
    if preset.objects.per_volume > lim.max_objects:
        return (
            f"objects.per_volume {_fmt(preset.objects.per_volume)}: at most "
            f"{_fmt(lim.max_objects)} (limits.max_objects)"
        )
    cases = preset.dataset.num_samples + preset.dataset.num_val
    if cases > lim.max_cases:
        return (
            f"dataset: num_samples + num_val = {_fmt(cases)} cases; at most "
            f"{_fmt(lim.max_cases)} (limits.max_cases)"
        )
    sections = [("pretrain", preset.pretrain), ("finetune", preset.finetune)]
    for name, cfg in sections:
        if cfg is not None and math.prod(cfg.patch_size) > lim.max_voxels:
            return (
                f"{name}.patch_size {list(cfg.patch_size)} is {_fmt(math.prod(cfg.patch_size))}"
                f" voxels; at most {_fmt(lim.max_voxels)} (limits.max_voxels)"
            )
    if "pretrain" in preset.model_fields_set:  # a pre-training recipe: its crops must fit
        cfg = preset.pretrain
        volume = tuple(cfg.render_shape or shape)
        over = [a for a in range(3) if cfg.patch_size[a] > volume[a]]
        if over:
            where = "pretrain.render_shape" if cfg.render_shape else "volume.shape"
            return (
                f"pretrain.patch_size {list(cfg.patch_size)} is larger than the volumes it is "
                f"cut from ({where} {list(volume)}) along axis {over[0]}; lower patch_size or "
                f"raise {where} (patches are never padded silently)"
            )
    if preset.pretrain.val_volumes > lim.max_cases:
        return f"pretrain.val_volumes: at most {_fmt(lim.max_cases)} (limits.max_cases)"
    return None


def check_shape(preset: Preset, shape: tuple[int, int, int], what: str = arg("shape")) -> None:
    """Refuse a render shape over ``limits.max_voxels``."""
    n = math.prod(shape)
    if n > preset.limits.max_voxels:
        raise UserError(
            f"{what} {' '.join(map(str, shape))}: {_fmt(n)} voxels; at most "
            f"{_fmt(preset.limits.max_voxels)} (the preset's limits.max_voxels)"
        )


# ---------------------------------------------------------------- machine
def usable_cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def machine_memory() -> int:
    """Bytes of memory this process may use: physical memory, or a smaller cgroup limit."""
    try:
        total = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        total = 16 * GIB
    for f in ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"):
        try:
            text = Path(f).read_text().strip()
        except OSError:
            continue
        if text.isdigit() and 0 < int(text) < total:
            total = int(text)
    return total


def max_workers() -> int:
    return WORKERS_PER_CPU * usable_cpus()


def check_workers(n: int | None, what: str = arg("workers"), low: int = 1) -> None:
    """``low <= n <= 4 x usable CPUs``: more processes than that only add memory."""
    if n is None:
        return
    top = max_workers()
    if not low <= n <= top:
        raise UserError(
            f"{what} {n}: allowed {low}..{top} ({WORKERS_PER_CPU} per CPU, "
            f"{usable_cpus()} CPU(s) here)"
        )


# ---------------------------------------------------------------- memory
@dataclass
class Estimate:
    """Estimated host memory of a command, by part."""

    parts: list[tuple[str, int]] = field(default_factory=list)

    def add(self, what: str, nbytes: float) -> None:
        self.parts.append((what, int(nbytes)))

    @property
    def total(self) -> int:
        return sum(b for _, b in self.parts)

    def describe(self) -> str:
        big = sorted(self.parts, key=lambda p: -p[1])[:2]
        return ", ".join(f"{w} {_gib(b)}" for w, b in big)


def render_bytes(shape: tuple[int, int, int], objects: int) -> int:
    """Peak bytes of rendering one volume of ``shape`` with ``objects`` objects."""
    return int(math.prod(shape) * (RENDER_BYTES_PER_VOXEL + OBJECT_BYTES_PER_VOXEL * objects))


def estimate(
    preset: Preset,
    command: str,
    *,
    workers: int = 1,
    shape: tuple[int, int, int] | None = None,
    cases: int | None = None,
) -> Estimate:
    """Host memory of ``command`` (sample, bench, generate, pretrain, finetune) on ``preset``."""
    shape = tuple(shape or preset.volume.shape)  # type: ignore[assignment]
    voxels = math.prod(shape)
    render = render_bytes(shape, preset.objects.per_volume)  # type: ignore[arg-type]
    est = Estimate()
    est.add("libraries", BASE_BYTES)
    procs = max(workers, 1)
    if command == "generate":
        est.add(f"{procs} rendering worker(s)", procs * (render + PROCESS_BYTES * (workers > 1)))
        est.add("cases in flight", 2 * procs * voxels * 4)
        n = cases if cases is not None else preset.dataset.num_samples + preset.dataset.num_val
        est.add("plan and manifest", n * CASE_BYTES)
    elif command == "pretrain":
        cfg = preset.pretrain
        est.add(f"{procs} rendering worker(s)", procs * (render + PROCESS_BYTES * (workers > 0)))
        queued = (2 * max(workers, 0) + 1) * cfg.batch_size * cfg.grad_accum
        est.add("batches in flight", queued * voxels * SAMPLE_BYTES_PER_VOXEL)
        est.add("validation volumes", cfg.val_volumes * voxels * SAMPLE_BYTES_PER_VOXEL)
    elif command == "report":  # volumes streamed: the one scored and the one shown
        est.add("rendering", render)
        est.add("validation volumes kept", min(cases or 1, 2) * voxels * SAMPLE_BYTES_PER_VOXEL)
    elif command == "bench":  # the naive baseline evaluates every voxel for every object
        est.add("rendering", 2 * render)
    elif command == "finetune":  # real cases: their size is known once they are read
        pass
    else:
        est.add("rendering", render)
    return est


def memory_limit(preset: Preset, max_memory_gib: float | None = None) -> tuple[int, str]:
    """The memory ceiling in bytes and where it comes from."""
    if max_memory_gib is not None:
        return int(max_memory_gib * GIB), arg("max_memory")
    if preset.limits.max_memory_gib is not None:
        return int(preset.limits.max_memory_gib * GIB), "limits.max_memory_gib"
    total = machine_memory()
    return int(MEMORY_FRACTION * total), f"80% of this machine's {total / GIB:.1f} GiB"


def check_memory(
    preset: Preset,
    command: str,
    *,
    max_memory_gib: float | None = None,
    extra: tuple[tuple[str, int], ...] = (),
    **kw: object,
) -> Estimate:
    """Refuse ``command`` when its estimated memory (plus ``extra`` parts, such as a
    network trained on the CPU) is over the ceiling."""
    if max_memory_gib is not None and not (0 < max_memory_gib < float("inf")):
        raise UserError(f"{arg('max_memory')} {max_memory_gib}: a positive number of GiB")
    est = estimate(preset, command, **kw)  # type: ignore[arg-type]
    for what, nbytes in extra:
        est.add(what, nbytes)
    limit, source = memory_limit(preset, max_memory_gib)
    if est.total > limit:
        raise UserError(
            f"{command}: needs about {_gib(est.total)} of memory ({est.describe()}); "
            f"the limit is {_gib(limit)} ({source}); lower "
            + (
                f"the patch, batch or crops, or train on a GPU ({arg('device')} cuda)"
                if extra
                else f"volume.shape, objects.per_volume or {arg('workers')}"
            )
            + f", or raise limits.max_memory_gib / {arg('max_memory')}"
        )
    return est


def cpu_training(cfg) -> tuple[tuple[str, int], ...]:
    """The memory part of a training section's network step on the CPU."""
    from ..networks import training_bytes

    samples = cfg.batch_size * cfg.augment.crops_per_volume
    nbytes = training_bytes(cfg.model, cfg.patch_size, cfg.model_kwargs, samples, cfg.amp)
    return ((f"{cfg.model} training on the CPU", nbytes),)


def check_runs(
    preset: Preset, max_memory_gib: float | None = None, train_device: str | None = None
) -> float:
    """What the commands check when they start with the preset's own settings: ``sample``,
    ``generate`` (one worker), and ``pretrain`` / ``finetune`` when the preset has those
    sections (with the network's memory when ``train_device`` is ``cpu``). Returns the
    largest estimate in GiB."""
    ests = [
        check_memory(preset, "sample", max_memory_gib=max_memory_gib),
        check_memory(preset, "generate", max_memory_gib=max_memory_gib),
    ]
    sections = ["pretrain"] if "pretrain" in preset.model_fields_set else []
    sections += ["finetune"] if preset.finetune is not None else []
    for name in sections:
        cfg = getattr(preset, name)
        check_workers(cfg.num_workers, f"{name}.num_workers", low=0)
        extra = cpu_training(cfg) if train_device == "cpu" else ()
        ests.append(
            check_memory(
                preset, name, max_memory_gib=max_memory_gib, workers=cfg.num_workers, extra=extra
            )
        )
    return max(e.total for e in ests) / GIB
