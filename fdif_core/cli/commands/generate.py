"""``fdif-core generate``: a preset's samples as a MONAI Decathlon or nnU-Net v2 dataset."""

from __future__ import annotations

import argparse

from ._common import add_device, add_max_memory, add_preset, device, int_in, path, workers_max

NAME = "generate"
ORDER = 30
OUTPUTS = {"out": "resumable"}  # checked by fdif_core.io.guard before run()
INPUTS = ("preset",)
IDENTIFIERS = ("dataset_name",)
HELP = "write a dataset (Decathlon or nnU-Net v2 layout) of a preset's samples; resumable"
DESCRIPTION = (
    "Write samples 0..N+V-1 of a preset as NIfTI files in the layout MONAI (decathlon) or "
    "nnU-Net v2 (nnunet) reads, with dataset.json, the preset and a manifest with checksums. "
    "Writes are atomic: an interrupted job finishes with --resume, byte-identical."
)


def parse_shard(text: str) -> tuple[int, int]:
    """``K/N`` with whole numbers 1 <= K <= N."""
    head, sep, tail = text.strip().partition("/")
    try:
        k, n = int(head), int(tail)
    except ValueError:
        k = n = 0
    if not sep or n < 1 or not 1 <= k <= n:
        raise argparse.ArgumentTypeError(f"{text!r}: allowed K/N with whole numbers 1 <= K <= N")
    return k, n


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_preset(p)
    p.add_argument(
        "--out",
        required=True,
        metavar="DIR",
        type=path,
        help="dataset folder (decathlon) or nnU-Net raw folder that gets DatasetXXX_Name/",
    )
    p.add_argument(
        "--num-samples",
        type=int_in(1),
        metavar="N",
        help="training cases (default: the preset's; at most its limits.max_cases in all)",
    )
    p.add_argument(
        "--num-val", type=int_in(0), metavar="N", help="validation cases (default: the preset's)"
    )
    p.add_argument(
        "--format",
        default="decathlon",
        choices=["decathlon", "nnunet"],
        help="layout (default: decathlon)",
    )
    p.add_argument(
        "--task",
        default="segmentation",
        choices=["segmentation", "classification"],
        help="classification: one primitive per volume, index.csv of (path, class)",
    )
    p.add_argument(
        "--workers",
        type=int_in(1, workers_max),
        default=1,
        metavar="N",
        help="parallel processes (cpu) or writer threads (cuda), 1..4 x CPUs; same files as 1 "
        "(default 1)",
    )
    add_device(p)
    add_max_memory(p)
    mode = p.add_mutually_exclusive_group()
    mode.add_argument(
        "--resume",
        action="store_true",
        help="finish an interrupted job in DIR (same settings); finished files are checked "
        "against the manifest's checksums and redone if they differ",
    )
    mode.add_argument(
        "--overwrite",
        action="store_true",
        help="write into DIR even if it is not empty or holds a dataset made with other settings",
    )
    p.add_argument(
        "--shard",
        metavar="K/N",
        type=parse_shard,
        help="write only shard K of N (contiguous parts of the cases; same bytes as one run): "
        "N jobs, e.g. a SLURM array, build one dataset in one --out; the last to finish "
        "writes dataset.json; --resume resumes this shard only",
    )
    mode.add_argument(
        "--finalize",
        action="store_true",
        help="after sharded jobs: check every case against the manifest's checksums and "
        "write dataset.json (same options as the shards, without --shard)",
    )
    p.add_argument(
        "--dataset-id",
        type=int_in(1, 999),
        default=501,
        metavar="ID",
        help="nnU-Net dataset id, 1..999 (501)",
    )
    p.add_argument(
        "--dataset-name", metavar="NAME", help="nnU-Net dataset name (default: preset name)"
    )
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def _stop(signum: int, frame: object) -> None:
    from ...errors import Interrupted

    raise Interrupted("", signum)


def run(args: argparse.Namespace) -> int:
    import signal

    from ...presets import load_preset
    from ...synthetic.export import generate

    before = signal.signal(signal.SIGTERM, _stop)  # like Ctrl-C: stop the workers, exit 143
    try:
        return _generate(args, load_preset, generate)
    finally:
        signal.signal(signal.SIGTERM, before)


def _generate(args: argparse.Namespace, load_preset, generate) -> int:
    dev = device(args.device)
    preset = load_preset(args.preset)
    res = generate(
        preset,
        args.out,
        num_samples=args.num_samples,
        num_val=args.num_val,
        format=args.format,
        task=args.task,
        workers=args.workers,
        device=str(dev),
        resume=args.resume,
        overwrite=args.overwrite,
        dataset_id=args.dataset_id,
        dataset_name=args.dataset_name,
        progress=not args.quiet,
        max_memory_gib=args.max_memory,
        shard=args.shard,
        finalize=args.finalize,
    )
    if args.finalize:
        print(f"{res.root}: {res.cases} cases checked; dataset.json, fdif_manifest.json")
        return 0
    rate = res.written / res.seconds if res.seconds > 0 else 0.0
    print(
        f"{res.root}: {res.cases} cases ({res.written} written now, {rate:.2f}/s), "
        f"{res.bytes / max(res.cases, 1) / 1024:.0f} KiB per case; dataset.json, "
        "fdif_manifest.json"
        if res.finalized
        else f"shard {args.shard[0]}/{args.shard[1]}: {res.cases} cases "
        f"({res.written} written now, {rate:.2f}/s); dataset.json comes with the last shard "
        "(or --finalize)"
    )
    if res.redone:
        print(
            f"{res.redone} finished case(s) did not match the manifest's checksums "
            "(missing, truncated or changed) and were written again"
        )
    return 0
