"""One GPU check: rendering, pre-training, fine-tuning and inference speed, memory, determinism.

    bash benchmarks/gpu_check.sh                      # one GPU, the paper's 96³ sizes
    bash benchmarks/gpu_check.sh --device cpu --size 64 --render-volumes 4 --steps 2 --tiny

Prints one table (``--json``: one JSON object):

- render: the paper preset rendered on the device, volumes/s (target >= 500 on a GPU);
- render on the CPU path: the same engine code on the CPU, one thread (as a generate
  worker), volumes/s and the device's speed-up over it;
- render = CPU: the same scenes rendered on the CPU; label voxels that differ (tolerance:
  at most 0.1 %, float arithmetic differs in the last bits at object boundaries) and the
  largest intensity difference;
- SwinUNETR pre-training through ``fdif-core pretrain``'s own loop with the preset's AMP:
  steps/s and the fraction of each step spent waiting for data (target < 5 %);
- ResEnc-L and Primus-M training steps/s (their preset recipe, batches from the stream) and
  the peak GPU memory of each model;
- a fine-tuning step (BTCV recipe: SwinUNETR, 14 classes) and sliding-window inference of one
  volume twice the patch edge;
- two pre-training runs from one seed: the largest loss difference over their steps (CPU:
  bitwise equal; GPU: within 1e-2, cuDNN's kernels are not bitwise deterministic).

On the CPU (``--device cpu``) AMP is off (CPU bf16 convolutions are slower than fp32).

``--tiny`` shrinks the networks (SwinUNETR feature size 12, ResEnc-L features / 4) and takes
one crop a step, for a CPU smoke run; Primus-M keeps its size (its width is fixed).
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from dataclasses import dataclass, field
from typing import Any

import torch

from fdif_core.cli.commands._common import checked_device
from fdif_core.engine.threads import one_torch_thread

CPU_RUN = "--device cpu --size 64 --infer-size 64 --render-volumes 1 --steps 1 --skip 0 --tiny"
PRESETS = {
    "swinunetr": "fdif-paper",
    "resenc_l": "fdif-paper-resencl",
    "primus_m": "fdif-paper-primus",
}
TINY_KWARGS = {
    "swinunetr": {"feature_size": 12},
    "resenc_l": {"features_per_stage": (8, 16, 32, 64, 80)},
    "primus_m": {},
}
LABEL_TOLERANCE = 0.001  # fraction of label voxels a device render may differ from the CPU's
SEED_TOLERANCE = 1e-2  # loss difference of two GPU runs from one seed (non-deterministic kernels)


@dataclass
class Table:
    rows: list[tuple[str, str, str, str]] = field(default_factory=list)
    data: dict[str, Any] = field(default_factory=dict)

    def add(self, check: str, value: str, target: str = "", ok: bool | None = None) -> None:
        mark = "" if ok is None else ("yes" if ok else "NO")
        self.rows.append((check, value, target, mark))

    def text(self) -> str:
        head = ("check", "measured", "target", "met")
        widths = [max(len(r[i]) for r in [head, *self.rows]) for i in range(4)]
        lines = [" | ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in [head]]
        lines.append("-|-".join("-" * w for w in widths))
        lines += [" | ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in self.rows]
        return "\n".join(lines)


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def preset_at(name: str, size: int, tiny: bool, cpu: bool = False):
    """Shipped preset ``name`` rendering and training at ``size``³ (validation off; on the
    CPU without AMP: CPU bf16 convolutions are slower than fp32)."""
    from fdif_core.presets import load_preset

    preset = load_preset(name)
    cfg = preset.pretrain
    kwargs = {**cfg.model_kwargs, **(TINY_KWARGS[cfg.model] if tiny else {})}
    update: dict[str, Any] = {"patch_size": (size,) * 3, "val_volumes": 0, "model_kwargs": kwargs}
    if cpu:
        update["amp"] = "off"
    if tiny:  # one crop a step: 110-channel outputs of 4 crops take gigabytes on a CPU
        update.update(batch_size=1, augment=cfg.augment.model_copy(update={"crops_per_volume": 1}))
    cfg = cfg.model_copy(update=update)
    volume = preset.volume.model_copy(update={"shape": (size,) * 3})
    return preset.model_copy(update={"pretrain": cfg, "volume": volume})


# --------------------------------------------------------------------------- rendering
def check_render(t: Table, dev: torch.device, size: int, n: int) -> None:
    recipe = preset_at("fdif-paper", size, False).recipe()
    shape = (size,) * 3
    for i in range(3 if dev.type == "cuda" else 0):  # warm-up (kernels, allocator)
        recipe.sample(i, shape, dev)
    sync(dev)
    t0 = time.perf_counter()
    for i in range(n):
        recipe.sample(1000 + i, shape, dev)
    sync(dev)
    rate = n / (time.perf_counter() - t0)
    t.data["render_volumes_per_s"] = rate
    target = ">= 500" if dev.type == "cuda" else "(GPU: >= 500)"
    t.add(f"render fdif-paper {size}³ on {dev.type}", f"{rate:.1f} volumes/s", target,
          rate >= 500 if dev.type == "cuda" else None)  # fmt: skip
    diff, worst = 0, 0
    total, cpu_s = 0, 0.0
    for i in range(min(n, 4)):
        a = recipe.sample(1000 + i, shape, dev)
        with one_torch_thread():  # the CPU path as a generate worker runs it
            c0 = time.perf_counter()
            b = recipe.sample(1000 + i, shape, "cpu")
            cpu_s += time.perf_counter() - c0
        diff += int((a.label.cpu() != b.label).sum())
        total += b.label.numel()
        worst = max(worst, int((a.image.cpu().int() - b.image.int()).abs().max()))
    frac = diff / total
    cpu_rate = min(n, 4) / cpu_s
    t.data.update(render_label_diff_fraction=frac, render_image_max_diff=worst)
    t.data.update(render_cpu_volumes_per_s=cpu_rate, render_speedup_over_cpu=rate / cpu_rate)
    t.add(f"render fdif-paper {size}³ on the CPU path (1 thread)", f"{cpu_rate:.2f} volumes/s",
          f"{dev.type} / CPU: {rate / cpu_rate:.1f}x", None)  # fmt: skip
    t.add("same scenes as the CPU render", f"{100 * frac:.4f} % label voxels differ, "
          f"max |intensity diff| {worst}", f"<= {100 * LABEL_TOLERANCE:g} %",
          frac <= LABEL_TOLERANCE)  # fmt: skip


# --------------------------------------------------------------------------- pre-training
def pretrain_run(preset, dev: torch.device, steps: int) -> tuple[list[dict], list[float]]:
    from fdif_core.training.pretrain import pretrain, read_log

    with tempfile.TemporaryDirectory() as tmp:
        res = pretrain(preset, tmp, device=dev, max_steps=steps, progress=False, workers=None)
        rows = [r for r in read_log(tmp) if "loss" in r]
    return rows, [res.losses[k] for k in sorted(res.losses)]


def check_swin(t: Table, dev: torch.device, size: int, steps: int, skip: int, tiny: bool) -> None:
    preset = preset_at("fdif-paper", size, tiny, dev.type == "cpu")
    if dev.type == "cpu":  # one process, no workers: a smoke run
        preset = preset.model_copy(
            update={"pretrain": preset.pretrain.model_copy(update={"num_workers": 0})}
        )
    rows, losses = pretrain_run(preset, dev, steps)
    rows = rows[skip:] or rows
    step = statistics.median(r["step_s"] for r in rows)
    wait = statistics.fmean(r["data_wait_s"] for r in rows) / statistics.fmean(
        r["step_s"] for r in rows
    )
    t.data.update(swin_steps_per_s=1 / step, swin_data_wait_fraction=wait)
    amp = preset.pretrain.amp
    t.add(f"SwinUNETR {size}³ pre-training ({amp} AMP)", f"{1 / step:.2f} steps/s")
    t.add("  waiting for data", f"{100 * wait:.2f} % of a step", "< 5 %", wait < 0.05)
    again = pretrain_run(preset, dev, min(steps, 10))[1]
    n = min(len(again), len(losses))
    gap = max(abs(a - b) for a, b in zip(losses[:n], again[:n], strict=True))
    t.data["same_seed_max_loss_diff"] = gap
    exact = dev.type == "cpu"
    target = "0 (CPU, fp32: bitwise)" if exact else f"<= {SEED_TOLERANCE:g} (GPU kernel order)"
    ok = gap == 0 if exact else gap <= SEED_TOLERANCE
    t.add(f"two {dev.type} runs, one seed ({n} steps)", f"max |loss diff| {gap:.3g}", target, ok)


def timed_steps(model, cfg, batch, dev, steps: int, skip: int) -> float:
    """Median seconds of a training step (forward, DiceCE, backward, optimiser, AMP)."""
    from fdif_core.training.optim import Amp, make_loss, make_optimizer

    loss_fn, opt, amp = make_loss(cfg), make_optimizer(model, cfg), Amp(cfg.amp, dev)
    params = [p for p in model.parameters() if p.requires_grad]
    x, y = batch
    times = []
    for _ in range(steps + skip):
        sync(dev)
        t0 = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        with amp.autocast():
            out = model(x)
        amp.backward(loss_fn(out.float(), y))
        amp.step(opt, params, cfg.grad_clip)
        sync(dev)
        times.append(time.perf_counter() - t0)
    return statistics.median(times[skip:])


def stream_batch(preset, dev: torch.device):
    """One training batch of the preset's stream, on the device."""
    from fdif_core.synthetic.stream import BatchStream, StreamConfig, SyntheticSource

    stream = StreamConfig.of(preset)
    b = BatchStream(stream, SyntheticSource(preset.recipe(), stream, "cpu")).make(0)
    return b.image.to(dev), b.target.to(dev)


def check_models(t: Table, dev, size: int, steps: int, skip: int, tiny: bool, models) -> None:
    from fdif_core.training.pretrain import make_model

    for name in models:
        preset = preset_at(PRESETS[name], size, tiny, dev.type == "cpu")
        model = make_model(preset).to(dev).train()
        batch = stream_batch(preset, dev)
        if dev.type == "cuda":
            torch.cuda.empty_cache()
            torch.cuda.reset_peak_memory_stats(dev)
        step = timed_steps(model, preset.pretrain, batch, dev, steps, skip)
        crops = batch[0].shape[0]
        t.data[f"{name}_steps_per_s"] = 1 / step
        t.add(f"{name} {size}³ training ({crops} crops, {preset.pretrain.amp})",
              f"{1 / step:.2f} steps/s")  # fmt: skip
        peak = torch.cuda.max_memory_allocated(dev) / 2**30 if dev.type == "cuda" else None
        t.data[f"{name}_peak_gib"] = peak
        params = sum(p.numel() for p in model.parameters()) / 1e6
        t.add(f"  peak GPU memory ({params:.0f} M parameters)",
              f"{peak:.2f} GiB" if peak is not None else "n/a on the CPU")  # fmt: skip
        del model, batch


# --------------------------------------------------------------------------- fine-tuning
def check_finetune(t: Table, dev, size: int, infer: int, steps: int, skip: int, tiny: bool):
    from monai.inferers import sliding_window_inference

    from fdif_core.cli.commands.finetune import load_finetune_preset
    from fdif_core.networks import build_network

    cfg = load_finetune_preset("btcv").finetune
    kwargs = {**cfg.model_kwargs, **(TINY_KWARGS[cfg.model] if tiny else {})}
    update = {"model_kwargs": kwargs, "patch_size": (size,) * 3}
    cfg = cfg.model_copy(update={**update, **({"amp": "off"} if dev.type == "cpu" else {})})
    classes = 14
    torch.manual_seed(0)
    model = build_network(cfg.model, classes, cfg.patch_size, kwargs).to(dev).train()
    crops = 1 if tiny else cfg.batch_size * cfg.augment.crops_per_volume
    x = torch.rand(crops, 1, size, size, size, device=dev)
    y = torch.randint(0, classes, (crops, 1, size, size, size), device=dev)
    step = timed_steps(model, cfg, (x, y), dev, steps, skip)
    t.data["finetune_step_s"] = step
    t.add(f"fine-tuning step (BTCV recipe, {cfg.model} {size}³, {crops} crops)",
          f"{1000 * step:.0f} ms")  # fmt: skip
    model.eval()
    volume = torch.rand(1, 1, infer, infer, infer, device=dev)
    amp = torch.autocast(dev.type, dtype=torch.bfloat16, enabled=cfg.amp == "bf16")
    with torch.no_grad(), amp:
        sync(dev)
        t0 = time.perf_counter()
        sliding_window_inference(
            volume, cfg.patch_size, cfg.sw_batch_size, model, overlap=cfg.sw_overlap
        )
        sync(dev)
    infer_s = time.perf_counter() - t0
    t.data["sliding_window_s"] = infer_s
    t.add(f"sliding-window inference, {infer}³ volume (overlap {cfg.sw_overlap})",
          f"{infer_s:.2f} s")  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cuda", help="cuda (default), cuda:N or cpu")
    ap.add_argument("--size", type=int, default=96, help="patch and volume edge (default 96)")
    ap.add_argument("--infer-size", type=int, help="inference volume edge (default 2 x size)")
    ap.add_argument("--render-volumes", type=int, default=300, help="volumes timed (300)")
    ap.add_argument("--steps", type=int, default=30, help="training steps timed per model")
    ap.add_argument("--skip", type=int, default=3, help="warm-up steps left out")
    ap.add_argument("--models", nargs="+", default=list(PRESETS), choices=list(PRESETS))
    ap.add_argument("--tiny", action="store_true", help="small networks (CPU smoke run)")
    ap.add_argument("--json", action="store_true", help="one JSON object instead of the table")
    args = ap.parse_args()
    dev = checked_device(args.device, "benchmarks/gpu_check.sh", CPU_RUN)
    if dev.type == "cuda":
        torch.backends.cudnn.benchmark = True
        torch.set_float32_matmul_precision("high")
    t = Table()
    t0 = time.perf_counter()
    check_render(t, dev, args.size, args.render_volumes)
    check_swin(t, dev, args.size, args.steps, args.skip, args.tiny)
    check_models(t, dev, args.size, args.steps, args.skip, args.tiny, args.models)
    infer = args.infer_size or 2 * args.size
    check_finetune(t, dev, args.size, infer, max(1, args.steps // 3), args.skip, args.tiny)
    name = torch.cuda.get_device_name(dev) if dev.type == "cuda" else "CPU"
    t.data.update(device=name, size=args.size, wall_s=time.perf_counter() - t0)
    if args.json:
        print(json.dumps(t.data))
        return
    print(f"FDIF GPU check on {name} ({torch.__version__}), {t.data['wall_s']:.0f} s")
    print(t.text())


if __name__ == "__main__":
    main()
