"""What pre-training and fine-tuning share (one loop): each test runs both tasks.

Resume equivalence, refusals, the non-finite loss stop with its cause, skipped non-finite
gradient steps, DDP under torchrun, and the run folder's repairs.
"""

from __future__ import annotations

import itertools
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from fdif_core.errors import UserError
from fdif_core.io.checkpoints import load_checkpoint
from fdif_core.training import loop
from fdif_core.training.rundir import LAST, read_log

ROOT = Path(__file__).resolve().parents[2]


def losses(run_dir) -> dict[int, float]:
    return {r["step"]: r["loss"] for r in read_log(run_dir) if "loss" in r}


def weights(path) -> dict[str, torch.Tensor]:
    return load_checkpoint(path)["model"]


def wrap_fit(monkeypatch, trainer, change) -> None:
    """Let ``change(task)`` edit the task (data, model, hooks) before the real ``fit``."""
    real = trainer.module.fit

    def fit(task, *args, **kwargs):
        change(task)
        return real(task, *args, **kwargs)

    monkeypatch.setattr(trainer.module, "fit", fit)


def test_resume_matches_uninterrupted_run(tmp_path, trainer):
    preset = trainer.preset()
    full = trainer.start(preset, tmp_path / "full")
    assert full.finished and sorted(full.losses) == [1, 2, 3, 4, 5, 6]
    part = trainer.start(preset, tmp_path / "part", max_steps=4)
    assert not part.finished and load_checkpoint(tmp_path / "part" / LAST)["step"] == 4
    # steps 5-6 of the interrupted call must be re-done, not duplicated, after resuming
    rest = trainer.resume(tmp_path / "part")
    assert rest.finished and sorted(rest.losses) == [5, 6]
    assert losses(tmp_path / "part") == losses(tmp_path / "full")  # bit-identical floats
    a, b = weights(tmp_path / "full" / LAST), weights(tmp_path / "part" / LAST)
    assert all(torch.equal(a[k], b[k]) for k in a)
    vals = {r["step"]: r["val_dice"] for r in read_log(tmp_path / "full") if "val_dice" in r}
    assert vals == full.val and sorted(vals) == [3, 6]  # logged as returned, at the cadence
    resumed = {r["step"]: r["val_dice"] for r in read_log(tmp_path / "part") if "val_dice" in r}
    assert resumed == vals  # validation repeats exactly after the resume
    best = load_checkpoint(tmp_path / "full" / "best.pt")
    assert best["best_val"] == max(vals.values()) and best["step"] in vals


def test_resume_refusals(tmp_path, trainer):
    trainer.start(trainer.preset(iterations=2), tmp_path / "run", max_steps=1)
    with pytest.raises(UserError, match="another preset"):
        trainer.resume(tmp_path / "run", preset=trainer.preset(iterations=2, lr=0.5))
    with pytest.raises(UserError, match="already holds a run"):
        trainer.start(trainer.preset(iterations=2), tmp_path / "run")
    ckpt = tmp_path / "run" / LAST
    ckpt.write_bytes(ckpt.read_bytes()[:200])  # truncated
    with pytest.raises(UserError, match="not a readable checkpoint") as err:
        trainer.resume(tmp_path / "run")
    assert "\n" not in str(err.value)


def test_nan_loss_stops_and_keeps_last_good_checkpoint(tmp_path, trainer, monkeypatch):
    real = loop.make_loss

    def poisoned(*args):
        inner, calls = real(*args), []

        def loss(out, y):
            calls.append(1)
            value = inner(out, y)
            return value * float("nan") if len(calls) == 5 else value

        return loss

    monkeypatch.setattr(loop, "make_loss", poisoned)
    with pytest.raises(loop.TrainingError, match="step 5: the loss is nan") as err:
        trainer.start(trainer.preset(), tmp_path / "run")
    msg = str(err.value)
    assert "last good checkpoint" in msg and "\n" not in msg
    assert f"inputs and weights are finite: try a lower {trainer.name}.lr" in msg
    state = load_checkpoint(tmp_path / "run" / LAST)
    assert state["step"] == 3 and all(torch.isfinite(v).all() for v in state["model"].values())


def test_nan_input_is_named_as_the_cause(tmp_path, trainer, monkeypatch):
    named: list[str] = []

    def poison(task):
        data = task.data

        def gen():
            for k, b in enumerate(data, 1):
                if k == 2:
                    b.image = b.image.clone()
                    b.image[0].view(-1)[5] = float("nan")
                    named.append(next(iter(b.names)))
                yield b

        task.data = gen()

    wrap_fit(monkeypatch, trainer, poison)
    with pytest.raises(loop.TrainingError, match="step 2: the loss is nan") as err:
        trainer.start(trainer.preset(), tmp_path / "run")
    assert f"non-finite voxels (data: {named[0]})" in str(err.value)
    assert "no checkpoint yet" in str(err.value)


def test_nan_weights_are_named_as_the_cause(tmp_path, trainer, monkeypatch):
    def poison(task):
        with torch.no_grad():
            next(task.model.parameters()).view(-1)[0] = float("nan")

    wrap_fit(monkeypatch, trainer, poison)
    with pytest.raises(loop.TrainingError, match=r"step 1: .*weights are not finite"):
        trainer.start(trainer.preset(), tmp_path / "run")


@pytest.mark.parametrize("amp", ["bf16", "fp16"])
def test_non_finite_gradient_step_is_skipped_and_counted(tmp_path, trainer, monkeypatch, amp):
    before: dict[int, dict[str, torch.Tensor]] = {}

    def hook(task):
        param = next(p for p in task.model.parameters() if p.requires_grad)
        current = [0]

        def before_step(step):
            current[0] = step
            before[step] = {k: v.clone() for k, v in task.model.state_dict().items()}

        task.before_step = before_step
        param.register_hook(lambda g: g * float("inf") if current[0] == 1 else g)

    wrap_fit(monkeypatch, trainer, hook)
    preset = trainer.preset(iterations=3, val_interval=0, amp=amp, warmup_steps=0)
    res = trainer.start(preset, tmp_path / "run")
    assert res.finished and all(math.isfinite(v) for v in res.losses.values())
    states = [before[0], before[1], before[2], weights(tmp_path / "run" / LAST)]
    unchanged = [all(torch.equal(a[k], b[k]) for k in a) for a, b in itertools.pairwise(states)]
    assert unchanged[1]  # step 2 (infinite gradients) changed nothing
    # every step without an update is counted, and only those (CPU bf16 kernels may add one)
    assert res.skipped_steps == sum(unchanged) >= 1
    rows = [r for r in read_log(tmp_path / "run") if "loss" in r]
    counts = [r.get("skipped_steps", 0) for r in rows]
    assert counts == [sum(unchanged[: i + 1]) for i in range(3)]
    assert load_checkpoint(tmp_path / "run" / LAST)["skipped_steps"] == res.skipped_steps


def test_resume_without_the_preset_file(tmp_path, trainer):
    preset = trainer.preset(iterations=2, val_interval=0)
    trainer.start(preset, tmp_path / "run", max_steps=1)
    (tmp_path / "run" / "preset.yaml").unlink()
    (tmp_path / "run" / "run.json").unlink(missing_ok=True)
    res = trainer.resume(tmp_path / "run")  # both travel in the checkpoint
    assert res.finished and (tmp_path / "run" / "preset.yaml").is_file()


@pytest.mark.slow
def test_torchrun_two_ranks_on_cpu(tmp_path, trainer):
    """DDP (gloo): ranks read disjoint data, agree in weights, rank 0 alone writes the run."""
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node",
           "2", str(Path(__file__).with_name("ddp_worker.py")), trainer.name, str(tmp_path),
           str(trainer.toy)]  # fmt: skip
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "finished at step 2" in proc.stdout
    r0, r1 = (torch.load(tmp_path / f"rank{r}.pt", weights_only=True) for r in range(2))
    # stream positions interleave: (step * world + rank) * batch + b
    if trainer.name == "pretrain":  # batch 2 (more were made ahead by the prefetcher)
        assert r0["seen"][:4] == [0, 1, 4, 5] and r1["seen"][:4] == [2, 3, 6, 7]
    else:  # batch 1
        assert r0["seen"] == [0, 2] and r1["seen"] == [1, 3]
    assert not set(r0["seen"]) & set(r1["seen"])
    assert all(torch.equal(r0["model"][k], r1["model"][k]) for k in r0["model"])
    last = weights(tmp_path / LAST)
    assert all(torch.equal(last[k], r0["model"][k]) for k in last)  # rank 0 wrote the run
    rows = read_log(tmp_path)
    assert [r["step"] for r in rows if "loss" in r] == [1, 2]  # logged once, by rank 0
    assert "val_dice" in rows[-1]  # validated on rank 0 at the end


@pytest.mark.slow
def test_torchrun_group_sigterm_saves_once_and_resumes(tmp_path, preset_file):
    """SLURM's SIGTERM to the whole group under torchrun: the ranks agree on one step, rank 0
    saves it, the run resumes from it under torchrun."""
    import signal
    import time

    preset = preset_file("pretrain", iterations=500, checkpoint_interval=400, val_interval=0)
    run = tmp_path / "run"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    launch = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node",
              "2", "-m", "fdif_core", "pretrain"]  # fmt: skip
    proc = subprocess.Popen([*launch, "--preset", str(preset), "--out", str(run), "--no-progress"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                            cwd=tmp_path, start_new_session=True)  # fmt: skip
    log, deadline = run / "log.jsonl", time.monotonic() + 240
    while proc.poll() is None and time.monotonic() < deadline:
        if log.exists() and sum('"loss"' in x for x in log.open()) >= 2:
            break
        time.sleep(0.05)
    assert proc.poll() is None, proc.stderr.read()[-2000:]
    os.killpg(proc.pid, signal.SIGTERM)  # launcher and both ranks, as SLURM does
    _, err = proc.communicate(timeout=180)
    said = [x for x in err.splitlines() if x.startswith("fdif-core pretrain: interrupted")]
    assert len(said) == 1 and "SIGTERM" in said[0] and "resume with" in said[0], err[-3000:]
    step = load_checkpoint(run / LAST)["step"]
    assert f"stopped at step {step}" in said[0] and step >= 2
    assert max(r["step"] for r in read_log(run) if "loss" in r) == step  # no step lost
    again = subprocess.run([*launch, "--resume", str(run), "--max-steps", "1", "--no-progress"],
                           capture_output=True, text=True, env=env, cwd=tmp_path,
                           timeout=300)  # fmt: skip
    assert again.returncode == 0, again.stderr[-2000:]
    assert load_checkpoint(run / LAST)["step"] == step + 1
