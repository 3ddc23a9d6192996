"""Every bad input of the corpus (``bad_inputs.py``): one line, exit 2, nothing damaged.

Each case runs the CLI in this process (``fdif_core.cli.main``) inside a fresh workspace
with the current folder set to an empty one, under a soft address-space limit (a run that
would allocate gigabytes fails the case instead of the machine), and checks: the exit code,
exactly one line on stderr holding the expected file/field/value, no traceback, no
"out of memory" (refusals come before allocations), every file that existed before
unchanged, no temporary file left behind, nothing written into the current folder, time.
Full disks are small tmpfs mounts (skipped where mounting is not permitted); interrupts
run ``python -m fdif_core`` in a subprocess and signal it.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import resource
import signal
import stat
import subprocess
import sys
import time
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest

from fdif_core.cli.main import main
from fdif_core.presets.preset import PRESET_DIR

from .bad_inputs import CORPUS, Bad

ROOT = Path(__file__).resolve().parents[2]
HEADROOM = 3 << 30  # address space a case may add (virtual; refusals need a few MB)
MAX_SECONDS = 60.0  # per case, on a loaded 2-core machine
PWNED = Path("/tmp/fdif_pwned")


def _digest(p: Path) -> str:
    h = hashlib.sha256()
    with open(p, "rb") as fh:
        while chunk := fh.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def snapshot(*roots: Path) -> dict[str, str]:
    """sha256 of every regular file under ``roots`` (links and special files by kind)."""
    out: dict[str, str] = {}
    for root in roots:
        for dirpath, _, filenames in os.walk(root):
            for name in filenames:
                p = Path(dirpath) / name
                st = p.lstat()
                if stat.S_ISREG(st.st_mode):
                    out[str(p)] = _digest(p) if st.st_size < (1 << 30) else f"size {st.st_size}"
                else:
                    out[str(p)] = f"mode {stat.S_IFMT(st.st_mode)}"
    return out


def temporaries(root: Path) -> list[str]:
    return [str(p) for p in root.rglob(".*.tmp*")]


@contextlib.contextmanager
def address_limit(extra: int) -> Iterator[None]:
    """Lower the soft RLIMIT_AS to the current size + ``extra`` while the case runs."""
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    vm = int(Path("/proc/self/statm").read_text().split()[0]) * resource.getpagesize()
    limit = vm + extra if hard == resource.RLIM_INFINITY else min(vm + extra, hard)
    resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


@contextlib.contextmanager
def cli_warnings() -> Iterator[None]:
    """Warnings as a plain ``fdif-core`` run shows them: on stderr (each one a line more)."""

    def show(message, category, filename, lineno, file=None, line=None) -> None:
        sys.stderr.write(warnings.formatwarning(message, category, filename, lineno, line))

    with warnings.catch_warnings():
        warnings.resetwarnings()
        warnings.simplefilter("default")
        for cat in (DeprecationWarning, PendingDeprecationWarning, ImportWarning, ResourceWarning):
            warnings.simplefilter("ignore", cat)
        warnings.showwarning = show
        yield


@contextlib.contextmanager
def mounted(ws: Path, kind: str) -> Iterator[None]:
    """A 1 MiB tmpfs at ws/full (nearly filled) or a read-only one at ws/ro."""
    where = ws / ("ro" if kind == "tmpfs-ro" else "full")
    where.mkdir()
    opts = "ro,size=1m" if kind == "tmpfs-ro" else "size=1m"
    proc = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", opts, "tmpfs", str(where)], capture_output=True, text=True
    )
    if proc.returncode:
        pytest.skip(f"cannot mount a tmpfs here ({proc.stderr.strip()[:80]})")
    try:
        yield
    finally:
        subprocess.run(["umount", "-l", str(where)], capture_output=True)


def fill(ws: Path, leave: int = 48 << 10) -> None:
    """Fill ws/full up to ``leave`` bytes free."""
    st = os.statvfs(ws / "full")
    free = st.f_bavail * st.f_frsize
    if free > leave:
        (ws / "full" / "filler.bin").write_bytes(b"\0" * (free - leave))


def check_line(err: str, bad: Bad) -> str:
    assert "Traceback" not in err, err
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1, f"expected one line on stderr, got {len(lines)}:\n{err}"
    line = lines[0]
    assert line.startswith(("fdif-core", "error:")), line
    missing = [e for e in bad.expect if e not in line]
    assert not missing, f"{missing} not in: {line}"
    assert "out of memory" not in line, line
    return line


CLI_CASES = [b for b in CORPUS if b.kind in ("cli", "tmpfs", "tmpfs-ro")]


@pytest.mark.parametrize("bad", CLI_CASES, ids=[b.id for b in CLI_CASES])
def test_bad_input(
    bad: Bad, tmp_path: Path, capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    ws, cwd = tmp_path / "ws", tmp_path / "cwd"
    ws.mkdir()
    cwd.mkdir()
    with contextlib.ExitStack() as stack:
        if bad.kind.startswith("tmpfs"):
            stack.enter_context(mounted(ws, bad.kind))
        for setup in bad.setup:
            setup(ws)
        if bad.kind == "tmpfs":
            fill(ws, 2 << 10 if bad.group == "tight" else 48 << 10)
        before = snapshot(ws, PRESET_DIR)
        monkeypatch.chdir(cwd)
        capfd.readouterr()
        t0 = time.perf_counter()
        with address_limit(HEADROOM), cli_warnings():
            rc = main(bad.argv(ws))
        seconds = time.perf_counter() - t0
        _, err = capfd.readouterr()
        after = snapshot(ws, PRESET_DIR)
        leftovers = temporaries(ws)
    assert rc == bad.code, f"exit {rc}, stderr: {err}"
    check_line(err, bad)
    changed = [p for p, h in before.items() if after.get(p) != h]
    assert not changed, f"pre-existing files changed or removed: {changed[:5]}"
    assert not leftovers, leftovers
    assert not any(cwd.iterdir()), f"wrote into the current folder: {list(cwd.iterdir())}"
    assert not PWNED.exists(), "a pickle payload ran"
    assert seconds < MAX_SECONDS, f"took {seconds:.1f} s"


# ---------------------------------------------------------------- the real entry point
PROCESS_IDS = ["preset-file/dev-zero/validate", "preset/memory-huge-volume/sample"]
PROCESS_LIMIT = 5 << 30  # address space of the whole process (torch alone maps ~3 GiB)


PROCESS_CASES = [b for b in CORPUS if b.id in PROCESS_IDS]


@pytest.mark.slow
@pytest.mark.parametrize("bad", PROCESS_CASES, ids=[b.id for b in PROCESS_CASES])
def test_entry_point_under_a_memory_limit(bad: Bad, tmp_path: Path) -> None:
    """``python -m fdif_core`` itself: exit status 2 and one line, in a process whose
    address space is capped (what it refuses, it refuses before allocating)."""
    ws = tmp_path / "ws"
    ws.mkdir()
    for setup in bad.setup:
        setup(ws)

    def cap() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (PROCESS_LIMIT, PROCESS_LIMIT))

    proc = subprocess.run(
        [sys.executable, "-m", "fdif_core", *bad.argv(ws)],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        cwd=tmp_path,
        preexec_fn=cap,
        timeout=120,
    )
    assert proc.returncode == bad.code, proc.stderr
    check_line(proc.stderr, bad)


# ---------------------------------------------------------------- interrupts
SIGNAL_CASES = [b for b in CORPUS if b.kind == "signal"]


def _started(bad: Bad, ws: Path) -> bool:
    """Far enough to be worth interrupting: 3 cases journaled, or 2 training steps logged."""
    if bad.args[0] == "generate":
        path = ws / "ds" / "fdif_journal.jsonl"
    else:
        path = ws / "run" / "log.jsonl"
    return path.exists() and sum('"loss"' in x or '"index"' in x for x in path.open()) >= 2


def _resumes(bad: Bad, ws: Path) -> None:
    """The interrupted run continues: generate to files matching the manifest (those
    finished before kept as they were); training from the saved step."""
    if bad.args[0] == "generate":
        before = snapshot(ws)
        assert main([*bad.argv(ws), "--resume"]) == 0
        manifest = json.loads((ws / "ds" / "fdif_manifest.json").read_text())
        assert manifest["complete"]
        for case in manifest["cases"]:
            for f in case["files"].values():
                assert _digest(ws / "ds" / f["path"]) == f["sha256"]
        kept = [p for p in before if "/imagesTr/" in p]
        assert kept and all(snapshot(ws).get(p) == before[p] for p in kept)
    else:
        from fdif_core.io.checkpoints import load_checkpoint

        step = load_checkpoint(ws / "run" / "last.pt")["step"]
        argv = [bad.args[0], "--resume", str(ws / "run"), "--max-steps", "1", "--no-progress"]
        assert main(argv) == 0
        assert load_checkpoint(ws / "run" / "last.pt")["step"] == step + 1


@pytest.mark.slow
@pytest.mark.parametrize("bad", SIGNAL_CASES, ids=[b.id for b in SIGNAL_CASES])
def test_interrupt_exits_130_and_resumes(bad: Bad, tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    ws.mkdir()
    for setup in bad.setup:
        setup(ws)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "fdif_core", *bad.argv(ws)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        start_new_session=True,  # its own process group, as a shell job
    )
    deadline = time.monotonic() + 120
    while not _started(bad, ws) and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert proc.poll() is None, f"finished before it could be interrupted: {proc.stderr.read()}"
    sig = signal.SIGINT if "sigint" in bad.id else signal.SIGTERM
    if "group" in bad.id or "sigint" in bad.id:
        os.killpg(proc.pid, sig)  # Ctrl-C, `timeout`, SLURM: the whole group, workers too
    else:
        os.kill(proc.pid, sig)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == bad.code, err
    check_line(err, bad)
    assert resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss < 4 << 20  # KiB: < 4 GiB
    assert not temporaries(ws), "the interrupted job left temporary files"
    _resumes(bad, ws)
    assert not temporaries(ws)


def test_corpus_is_broad() -> None:
    """At least 150 distinct bad inputs over every category the issue names."""
    inputs = {b.id.rsplit("/", 1)[0] if b.id.startswith("preset") else b.id for b in CORPUS}
    kinds = {b.id.split("/")[0] for b in CORPUS}
    assert len(inputs) >= 150, len(inputs)
    assert {"preset-file", "preset", "cli", "dataset", "checkpoint", "disk", "interrupt"} <= kinds
