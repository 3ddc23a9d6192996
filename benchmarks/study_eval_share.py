"""A study unit's evaluation against its fine-tuning, for a shipped fine-tuning preset.

    python benchmarks/study_eval_share.py --preset finetune/btcv --train-batch 1
    python benchmarks/study_eval_share.py --preset finetune/quick

Times, with the preset's network, patch, precision and optimizer on this machine:

- one fine-tuning step (forward, DiceCE loss, backward, optimizer step) on a batch of
  ``batch_size x crops_per_volume`` random patches (``--train-batch N``: N patches instead,
  the step time scaled to the preset's batch, for networks whose full batch does not fit);
- the forward pass of ``sw_batch_size`` sliding windows (``Predictor.forward``), times the
  number of windows of one full-size case at the preset's spacing (``--shape``/``--spacing``:
  the 512 x 512 x 133 phantom at 0.7 x 0.7 x 2.5 mm; the whole resampled grid, no
  foreground crop: an upper bound), plus ``--metrics-s`` for inverse mapping, metrics and
  NIfTI writing (measured by ``benchmarks/evaluate_speed.py``).

CPU seconds (process time, one torch thread unless ``--threads``). Prints the step time, the
fine-tuning time for the preset's steps, the evaluation time of
one case and their ratio (the study's target: evaluation <= 10 % of fine-tuning), and the
load average (the machine may be shared: the ratio is what counts).
"""

from __future__ import annotations

import argparse
import os
import time

CLASSES = 14


def _median_time(fn, repeats: int) -> float:
    """Median CPU seconds of ``fn`` (process time: steadier than wall time on a shared
    machine; with one torch thread it is the compute time)."""
    fn()  # warm-up (allocations, oneDNN primitives)
    times = []
    for _ in range(repeats):
        t0 = time.process_time()
        fn()
        times.append(time.process_time() - t0)
    return sorted(times)[len(times) // 2]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--preset", default="finetune/btcv")
    ap.add_argument("--shape", type=int, nargs=3, default=[512, 512, 133])
    ap.add_argument("--spacing", type=float, nargs=3, default=[0.7, 0.7, 2.5])
    ap.add_argument("--train-batch", type=int, default=0, help="patches per timed step")
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--metrics-s", type=float, default=6.0)
    ap.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    args = ap.parse_args()

    import torch

    torch.set_num_threads(args.threads)

    from fdif_core.evaluation.evaluate import Predictor
    from fdif_core.evaluation.sliding import window_count
    from fdif_core.networks import build_network
    from fdif_core.presets import load_preset
    from fdif_core.presets.training import amp_dtype
    from fdif_core.real.preprocess import Plan
    from fdif_core.training.optim import make_loss, make_optimizer

    cfg = load_preset(args.preset).finetune
    assert cfg is not None, f"{args.preset}: no finetune: section"
    roi = tuple(cfg.patch_size)
    spacing = cfg.preprocess.spacing or tuple(args.spacing)
    grid = [round(n * s / t) for n, s, t in zip(args.shape, args.spacing, spacing, strict=True)]
    n_win = window_count(tuple(grid), roi, cfg.sw_overlap)
    batch = cfg.batch_size * cfg.augment.crops_per_volume
    timed = args.train_batch or batch
    torch.manual_seed(0)
    model = build_network(cfg.model, CLASSES, roi, dict(cfg.model_kwargs))
    opt = make_optimizer(model, cfg)
    loss_fn = make_loss(cfg)
    dtype = amp_dtype(cfg.amp)
    x = torch.randn(timed, 1, *roi)
    y = torch.randint(0, CLASSES, (timed, 1, *roi))

    def step() -> None:
        model.train()
        opt.zero_grad(set_to_none=True)
        with torch.autocast("cpu", dtype=dtype, enabled=dtype is not None):
            loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()

    load0 = os.getloadavg()[0]
    step_s = _median_time(step, args.repeats) * batch / timed
    plan = Plan(spacing, "none", crop_foreground=True, channels=["CT"],
                labels=["background", *(f"c{i}" for i in range(1, CLASSES))])  # fmt: skip
    pred = Predictor(model, plan, roi, cfg.sw_overlap, cfg.sw_batch_size, "cpu", cfg.amp)
    model.eval()
    wins = torch.randn(cfg.sw_batch_size, 1, *roi)
    fwd_s = _median_time(lambda: pred.forward(wins), args.repeats)
    eval_s = n_win / cfg.sw_batch_size * fwd_s + args.metrics_s
    train_s = step_s * cfg.iterations
    print(f"{args.preset}: {cfg.model} {roi} amp {cfg.amp}, batch {batch} "
          f"(timed {timed}), {cfg.iterations} steps; load {load0:.2f} -> "
          f"{os.getloadavg()[0]:.2f}")  # fmt: skip
    print(f"CPU time ({args.threads} thread(s)): fine-tuning step {step_s:.2f} s -> "
          f"{cfg.iterations} steps {train_s / 3600:.2f} h")  # fmt: skip
    print(f"evaluation of one {'x'.join(map(str, args.shape))} case: grid {grid} at {spacing} "
          f"mm, {n_win} windows (overlap {cfg.sw_overlap}), {fwd_s:.2f} s per "
          f"{cfg.sw_batch_size} windows + {args.metrics_s:.0f} s -> {eval_s:.0f} s")  # fmt: skip
    print(f"evaluation / fine-tuning: {100 * eval_s / train_s:.2f} % per validation case")


if __name__ == "__main__":
    main()
