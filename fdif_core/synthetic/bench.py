"""Engine throughput and memory: the culled engine against a naive full-grid evaluation.

Each measurement runs in fresh worker processes (spawned), so peak memory is per process
and nothing is shared between runs. Figures are reported as ratios to the baseline
measured in the same run.
"""

from __future__ import annotations

import multiprocessing as mp
import resource
import sys
import time
from dataclasses import asdict, dataclass


@dataclass
class Measurement:
    name: str
    workers: int
    volumes: int
    seconds: float
    peak_mb: float  # largest peak RSS of a worker process (CUDA: peak allocated on the device)
    base_mb: float  # RSS of a worker after imports, before rendering
    cpu_seconds: float = 0.0  # process CPU time of the workers, summed (robust under load)

    @property
    def per_second(self) -> float:
        return self.volumes / self.seconds

    @property
    def cpu_per_volume(self) -> float:
        return self.cpu_seconds / self.volumes


def _rss_mb() -> float:
    scale = 1.0 if sys.platform == "darwin" else 1024.0  # ru_maxrss: bytes on macOS, KiB on Linux
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale / 2**20


def _worker(
    args: tuple[str, list[int], bool, str, tuple[int, int, int] | None],
) -> tuple[float, float, float, float]:
    preset_path, indices, full_grid, device, shape = args
    import torch

    from ..presets import load_preset

    torch.set_num_threads(1)
    recipe = load_preset(preset_path).recipe()
    dev = torch.device(device)
    recipe.render(recipe.scene(10**6)[:2], shape, dev, full_grid)  # warm-up
    base = _rss_mb()
    if dev.type == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    start, cpu = time.perf_counter(), time.process_time()
    for i in indices:
        recipe.render(recipe.scene(i), shape, dev, full_grid)
    if dev.type == "cuda":
        torch.cuda.synchronize()
        peak = torch.cuda.max_memory_allocated() / 2**20
    else:
        peak = _rss_mb()
    return time.perf_counter() - start, peak, base, time.process_time() - cpu


def measure(
    name: str,
    preset_path: str,
    count: int,
    workers: int,
    full_grid: bool,
    device: str,
    shape: tuple[int, int, int] | None = None,
) -> Measurement:
    """Render ``count`` samples split over ``workers`` spawned single-thread processes."""
    chunks = [list(range(w, count, workers)) for w in range(workers)]
    ctx = mp.get_context("spawn")
    with ctx.Pool(workers) as pool:
        start = time.perf_counter()
        results = pool.map(_worker, [(preset_path, c, full_grid, device, shape) for c in chunks])
        wall = time.perf_counter() - start
    busy = (
        max(r[0] for r in results)
        if workers == 1
        else wall - max(0.0, wall - max(r[0] for r in results))
    )
    return Measurement(
        name,
        workers,
        count,
        busy,
        max(r[1] for r in results),
        max(r[2] for r in results),
        sum(r[3] for r in results),
    )


def run(
    preset_path: str,
    device: str = "cpu",
    count: int = 12,
    naive_count: int = 3,
    shape: tuple[int, int, int] | None = None,
) -> list[Measurement]:
    """The benchmark table: naive (1 process), engine (1 process), engine (2 processes)."""
    out = [
        measure("naive full grid", preset_path, naive_count, 1, True, device, shape),
        measure("engine", preset_path, count, 1, False, device, shape),
    ]
    if device == "cpu":
        out.append(measure("engine", preset_path, count, 2, False, device, shape))
    return out


def report(rows: list[Measurement]) -> str:
    """The table: wall-clock rate and its ratio, and the ratio of process CPU time per
    volume (``x naive cpu``: robust when other jobs share the cores)."""
    base, base_cpu = rows[0].per_second, rows[0].cpu_per_volume
    lines = [
        f"{'method':18s} {'procs':>5s} {'vols':>5s} {'vol/s':>8s} {'x naive':>8s} "
        f"{'cpu s/vol':>9s} {'x naive cpu':>11s} {'peak MB':>8s} {'base MB':>8s}"
    ]
    for r in rows:
        lines.append(
            f"{r.name:18s} {r.workers:5d} {r.volumes:5d} {r.per_second:8.2f} "
            f"{r.per_second / base:8.1f} {r.cpu_per_volume:9.3f} "
            f"{base_cpu / r.cpu_per_volume:11.1f} {r.peak_mb:8.0f} {r.base_mb:8.0f}"
        )
    return "\n".join(lines)


def as_dicts(rows: list[Measurement]) -> list[dict]:
    base, base_cpu = rows[0].per_second, rows[0].cpu_per_volume
    return [
        {
            **asdict(r),
            "per_second": r.per_second,
            "ratio_to_naive": r.per_second / base,
            "cpu_ratio_to_naive": base_cpu / r.cpu_per_volume,
        }
        for r in rows
    ]
