"""Shards: N jobs (a SLURM array, or any scheduler) write one dataset together.

Shard K of N writes the contiguous K-th N-th of the cases, the same bytes a single run
writes for them (a case depends only on the preset, its index and the device type). Each
shard journals its finished cases in its own ``fdif_journal.K-of-N.jsonl`` (so it resumes
on its own) and holds a shared lock on the folder; the last shard to finish (or
``generate --finalize``) checks every case against the manifest, then writes dataset.json
and the complete manifest, exactly as a single run does.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ...errors import UserError, arg
from ...io.atomic import write_text
from ...presets.preset import Preset
from . import manifest as mf
from .layouts import ExportCase, ExportPlan

if TYPE_CHECKING:
    from ...engine.compose import Recipe
    from .jobs import Result
    from .writer import Job

Shard = tuple[int, int]  # (K, N), 1 <= K <= N


def journal_name(shard: Shard) -> str:
    return f"fdif_journal.{shard[0]}-of-{shard[1]}.jsonl"


def shard_cases(cases: list[ExportCase], shard: Shard) -> list[ExportCase]:
    """Shard K of N: cases ``(K-1) M / N .. K M / N - 1`` of the M cases (contiguous)."""
    k, n = shard
    m = len(cases)
    return cases[(k - 1) * m // n : k * m // n]


def journals(root: Path) -> list[Path]:
    """Every journal in ``root``: the single run's and the shards'."""
    return sorted(root.glob("fdif_journal*.jsonl"))


def all_records(root: Path, manifest: dict[str, Any] | None) -> dict[int, dict[str, Any]]:
    """Finished cases from the manifest and from every journal in ``root``."""
    out = mf.done_records(root, manifest)
    for path in journals(root):
        out.update(mf.read_journal(root, path.name))
    return out


@contextlib.contextmanager
def lock(path: Path, exclusive: bool, busy: str) -> Iterator[bool]:
    """flock ``path`` (a folder or file) without waiting; ``busy`` None yields False when
    the lock is held elsewhere, else that message is raised as a UserError."""
    try:
        import fcntl
    except ImportError:  # not POSIX: no lock
        yield True
        return
    fd = os.open(path, os.O_RDONLY)
    try:
        try:
            fcntl.flock(fd, (fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH) | fcntl.LOCK_NB)
        except BlockingIOError:
            if busy:
                raise UserError(busy) from None
            yield False
            return
        yield True
    finally:
        os.close(fd)


def claim(
    root: Path,
    preset: Preset,
    plan: ExportPlan,
    cases: list[ExportCase],
    mine: list[ExportCase],
    classes: dict[str, list[str]],
    shard: Shard,
    resume: bool,
) -> dict[str, Any]:
    """Check ``root`` for shard ``shard``; write the (shared, identical) manifest if none.

    Returns the manifest. Other shards may be writing: nothing of theirs is touched.
    """
    old = mf.read(root)
    if old is None:
        ours = {mf.MANIFEST, mf.PRESET_FILE, *(Path(f).parts[0] for f in plan.folders())}
        other = sorted(
            p.name for p in root.iterdir() if not p.name.startswith(".") and p.name not in ours
        )
        if other:
            raise UserError(
                f"{arg('out')}: {root} is not empty ({', '.join(other[:3])}) and holds no "
                "fdif-core dataset; choose an empty folder"
            )
        # every shard writes the same bytes (atomically), whichever comes first
        write_text(root / mf.PRESET_FILE, preset.to_yaml())
        mf.write(root, mf.build(preset, plan, cases, classes))
        old = mf.read(root)
    assert old is not None
    diff = mf.mismatch(old["identity"], mf.identity(preset, plan))
    if diff:
        raise UserError(
            f"{arg('out')}: {root} holds a dataset made with other settings ({'; '.join(diff)}); "
            "give every shard the same preset and options, or use another --out"
        )
    k, n = shard
    if not resume and (mf.read_journal(root, journal_name(shard)) or old.get("complete")):
        raise UserError(
            f"{arg('shard')} {k}/{n}: {root} already holds this shard's cases; pass "
            f"{arg('resume')} to "
            "finish or check them"
        )
    return old


def complete(root: Path, cases: list[ExportCase], records: dict[int, dict[str, Any]]) -> bool:
    """Every case journaled with all its files on disk (the cheap check of the last shard)."""
    return all(
        c.index in records and all((root / f).is_file() for f in c.files.values()) for c in cases
    )


def run(  # the arguments of jobs.generate, resolved
    recipe: Recipe,
    job: Job,
    executor: Any,
    workers: int,
    plan: ExportPlan,
    classes: dict[str, list[str]],
    shard: Shard | None,
    resume: bool,
    progress: bool,
    t0: float,
) -> Result:
    """One shard of a dataset, then finalize if it is the last; or (shard None) finalize.

    Returns ``jobs.generate``'s ``Result`` (cases: this shard's).
    """
    from .jobs import Result, _finish, _intact, _remove_temporaries, _write_cases

    root, preset, cases = job.root, job.preset, plan.cases()
    busy = f"{arg('out')}: another fdif-core generate without {arg('shard')} is writing into {root}"
    if shard is None:  # --finalize
        busy = f"{arg('finalize')}: shards are still writing into {root}; run it when they are done"
        with lock(root, True, busy):
            old = mf.read(root)
            if old is None:
                raise UserError(
                    f"{arg('finalize')}: {root} holds no fdif-core dataset; run the shards"
                )
            claim(root, preset, plan, cases, cases, classes, (1, 1), True)
            recs = all_records(root, old)
            bad = [c for c in cases if c.index not in recs or not _intact(root, c, recs[c.index])]
            if bad:
                raise UserError(
                    f"{arg('finalize')}: {len(bad)} of {len(cases)} cases missing or damaged "
                    f"(first: {bad[0].files['image']}); rerun the shards holding them with "
                    f"{arg('resume')}"
                )
            _finish(root, preset, plan, cases, classes, recs)
        size = sum((root / p).stat().st_size for c in cases for p in c.files.values())
        return Result(root, len(cases), 0, size, time.perf_counter() - t0)
    mine = shard_cases(cases, shard)
    name = journal_name(shard)
    with lock(root, False, busy):
        old = claim(root, preset, plan, cases, mine, classes, shard, resume)
        (root / name).touch()
        with lock(
            root / name,
            True,
            f"{arg('shard')} {shard[0]}/{shard[1]}: another job is writing this shard into {root}",
        ):
            done = all_records(root, old) if resume else {}
            claimed = [c for c in mine if c.index in done]
            records = {c.index: done[c.index] for c in claimed if _intact(root, c, done[c.index])}
            todo = [c for c in mine if c.index not in records]
            redone = len(claimed) - len(records)
            _remove_temporaries(root, plan, todo)
            _write_cases(recipe, job, executor, workers, plan, todo, todo, records, progress, name)
    finalized = False
    with lock(root, True, None) as alone:  # no other shard at work: maybe the last
        recs = all_records(root, mf.read(root)) if alone else {}
        if alone and complete(root, cases, recs):
            _finish(root, preset, plan, cases, classes, recs)
            finalized = True
    size = sum((root / p).stat().st_size for c in mine for p in c.files.values())
    return Result(root, len(mine), len(todo), size, time.perf_counter() - t0, redone, finalized)
