"""Faults during training, for both tasks: SIGINT / SIGTERM save and say how to resume, a
torn log line is repaired, a crash inside a checkpoint write keeps the previous one, a full
disk ends with one line and leaves the files as they were."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from fdif_core.cli.main import main
from fdif_core.io.checkpoints import load_checkpoint
from fdif_core.training.rundir import LAST, LOG, read_log

ROOT = Path(__file__).resolve().parents[2]
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def steps_logged(run: Path) -> list[int]:
    return [r["step"] for r in read_log(run) if "loss" in r] if (run / LOG).exists() else []


@pytest.mark.slow
def test_signal_saves_the_current_step_and_says_how_to_resume(tmp_path, trainer):
    sig = signal.SIGINT if trainer.name == "pretrain" else signal.SIGTERM
    preset = tmp_path / "p.yaml"
    over = {"iterations": 500, "checkpoint_interval": 400, "val_interval": 0}
    preset.write_text(yaml.safe_dump(trainer.data(**over)))
    run = tmp_path / "run"
    cmd = [sys.executable, "-m", "fdif_core", *trainer.argv(preset, run)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=ENV, cwd=ROOT)  # fmt: skip
    deadline = time.monotonic() + 120
    while len(steps_logged(run)) < 2 and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.1)
    proc.send_signal(sig)
    _out, err = proc.communicate(timeout=120)
    assert proc.returncode == 128 + sig, err[-2000:]  # 130 (SIGINT), 143 (SIGTERM)
    lines = [x for x in err.splitlines() if x.strip()]
    assert len(lines) == 1 and "Traceback" not in err, err
    step = load_checkpoint(run / LAST)["step"]
    assert steps_logged(run) == list(range(1, step + 1)) and step >= 2  # nothing lost
    name = signal.Signals(sig).name
    assert f"interrupted ({name}: stopped at step {step})" in lines[0]
    assert lines[0].endswith(f"resume with: fdif-core {trainer.name} --resume {run} --no-progress")
    res = trainer.resume(run, max_steps=1)
    assert res.step == step + 1


def test_torn_log_line_is_repaired_on_resume(tmp_path, trainer):
    preset = trainer.preset(iterations=4, val_interval=0, checkpoint_interval=4)
    trainer.start(preset, tmp_path / "run", max_steps=2)
    log = tmp_path / "run" / LOG
    with open(log, "a") as fh:  # a row past the checkpoint, then a crash inside a write
        fh.write(json.dumps({"step": 3, "loss": 1.0}) + "\n" + '{"step": 4, "lo')
    res = trainer.resume(tmp_path / "run")
    assert res.finished
    rows = [json.loads(x) for x in log.read_text().splitlines()]  # every line parses again
    assert [r["step"] for r in rows if "loss" in r] == [1, 2, 3, 4]
    assert rows[2]["loss"] == res.losses[3]  # the stale row 3 was dropped, not kept


CRASH = """
import os, signal, sys
real = os.replace
def replace(src, dst):
    if str(dst).endswith("last.pt"):  # the new checkpoint is written, not yet renamed
        os.kill(os.getpid(), signal.SIGKILL)
    return real(src, dst)
os.replace = replace
from fdif_core.cli.main import main
sys.exit(main(sys.argv[1:]))
"""


@pytest.mark.slow
def test_kill_inside_a_checkpoint_write_keeps_the_previous_one(tmp_path, tiny):
    from fdif_core.training.pretrain import pretrain

    run = tmp_path / "run"
    pretrain(tiny(val_interval=0), run, max_steps=3, progress=False)
    before = digest(run / LAST)
    argv = ["pretrain", "--resume", str(run), "--no-progress"]
    proc = subprocess.run([sys.executable, "-c", CRASH, *argv], capture_output=True, text=True,
                          env=ENV, cwd=ROOT, timeout=300)  # fmt: skip
    assert proc.returncode == -signal.SIGKILL, proc.stderr[-2000:]
    assert list(run.glob(".last*.tmp*"))  # the cut-short write ...
    assert digest(run / LAST) == before and load_checkpoint(run / LAST)["step"] == 3  # ... lost
    res = pretrain(resume=run, progress=False)
    assert res.finished and not list(run.glob(".*.tmp*"))
    assert steps_logged(run) == [1, 2, 3, 4, 5, 6]


@pytest.fixture
def small_disk(tmp_path):
    """A 2 MiB tmpfs: a disk that fills up (root only; skipped where mount is refused)."""
    disk = tmp_path / "disk"
    disk.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(disk)],
                          capture_output=True, text=True)  # fmt: skip
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    yield disk
    subprocess.run(["umount", "-l", str(disk)], check=False)


def fill(disk: Path, leave: int) -> Path:
    """Fill ``disk`` until ``leave`` bytes are free (about: tmpfs counts whole pages)."""
    st = os.statvfs(disk)
    free = st.f_bavail * st.f_frsize
    filler = disk / "filler"
    with open(filler, "wb", buffering=0) as fh:
        try:
            fh.write(b"\0" * max(free - leave, 0))
            while leave == 0:
                fh.write(b"\0" * 4096)
                fh.flush()
        except OSError:
            pass
    return filler


@pytest.mark.filterwarnings("error::pytest.PytestUnhandledThreadExceptionWarning")
@pytest.mark.parametrize("leave", ["nothing", "half a checkpoint"])
def test_full_disk_is_one_line_and_keeps_the_files(small_disk, capsys, preset_file, leave):
    run = small_disk / "run"
    preset = preset_file(val_interval=0, checkpoint_interval=3)
    argv = ["pretrain", "--preset", str(preset), "--out", str(run), "--no-progress"]
    assert main([*argv, "--max-steps", "3"]) == 0
    capsys.readouterr()
    ckpt, log = digest(run / LAST), (run / LOG).read_bytes()
    size = (run / LAST).stat().st_size
    filler = fill(small_disk, 0 if leave == "nothing" else size // 2)
    assert main(["pretrain", "--resume", str(run), "--no-progress"]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "Traceback" not in err and "No space left" in err, err
    assert digest(run / LAST) == ckpt and load_checkpoint(run / LAST)["step"] == 3
    assert (run / LOG).read_bytes().startswith(log)  # earlier rows untouched
    assert all(json.loads(x) for x in (run / LOG).read_text().splitlines())  # no torn line
    filler.unlink()  # space again: the run resumes and finishes
    assert main(["pretrain", "--resume", str(run), "--no-progress"]) == 0
    assert steps_logged(run) == [1, 2, 3, 4, 5, 6]
