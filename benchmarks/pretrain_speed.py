"""Pre-training speed: step time and the time each step waited for data.

    python benchmarks/pretrain_speed.py --preset quickstart --steps 40
    python benchmarks/pretrain_speed.py --preset fdif-paper --device cuda --steps 60

Runs ``--steps`` steps of the preset's recipe into a temporary folder (validation and the
first ``--skip`` steps excluded) and prints the median step time, the median data wait and
their ratio: the stream must not be the bottleneck (target on the GPU: wait < 5 % of a step).
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--preset", default="quickstart")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--steps", type=int, default=40)
    ap.add_argument("--skip", type=int, default=5, help="warm-up steps left out")
    ap.add_argument("--workers", type=int, default=None)
    ap.add_argument("--threads", type=int, default=None, help="torch threads (CPU)")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()

    import torch

    from fdif_core.cli.commands._common import checked_device
    from fdif_core.presets import load_preset
    from fdif_core.training.pretrain import pretrain, read_log

    dev = checked_device(args.device, "benchmarks/pretrain_speed.py", "--device cpu")
    if args.threads:
        torch.set_num_threads(args.threads)
    preset = load_preset(args.preset)
    # no validation inside the measured window
    cfg = preset.pretrain.model_copy(update={"val_volumes": 0})
    preset = preset.model_copy(update={"pretrain": cfg})
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        res = pretrain(
            preset,
            tmp,
            device=dev,
            workers=args.workers,
            max_steps=args.steps,
            progress=False,
        )
        wall = time.perf_counter() - t0
        rows = [r for r in read_log(tmp) if "loss" in r][args.skip :]
    step = statistics.median(r["step_s"] for r in rows)
    wait = statistics.median(r["data_wait_s"] for r in rows)
    mean_wait = statistics.fmean(r["data_wait_s"] for r in rows)
    mean_step = statistics.fmean(r["step_s"] for r in rows)
    out = {
        "preset": preset.name,
        "model": cfg.model,
        "device": str(args.device),
        "gpu": torch.cuda.get_device_name() if str(args.device).startswith("cuda") else None,
        "steps_measured": len(rows),
        "step_s_median": step,
        "data_wait_s_median": wait,
        "data_wait_fraction_mean": mean_wait / mean_step,
        "crops_per_s": cfg.batch_size * cfg.augment.crops_per_volume * cfg.grad_accum / step,
        "wall_s": wall,
        "final_loss": res.losses[max(res.losses)],
    }
    if args.json:
        print(json.dumps(out))
        return
    print(f"{out['preset']} / {out['model']} on {out['gpu'] or out['device']}")
    print(f"  step time (median)   {step * 1000:9.1f} ms")
    print(f"  data wait (median)   {wait * 1000:9.1f} ms")
    print(
        f"  data wait / step     {100 * out['data_wait_fraction_mean']:9.2f} %  (mean over steps)"
    )
    print(f"  crops per second     {out['crops_per_s']:9.2f}")


if __name__ == "__main__":
    main()
