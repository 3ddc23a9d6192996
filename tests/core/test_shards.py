"""``generate --shard K/N``: N processes build one dataset, byte for byte a single run's."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from fdif_core import load_preset
from fdif_core.cli.main import main
from fdif_core.synthetic.export import MANIFEST, generate
from fdif_core.synthetic.export.layouts import ExportPlan
from fdif_core.synthetic.export.shards import shard_cases

from .test_export import ROOT, tree, write_preset


def argv(preset: Path, out: Path, *more: str) -> list[str]:
    return [sys.executable, "-m", "fdif_core", "generate", "--preset", str(preset),
            "--out", str(out), "--quiet", *more]  # fmt: skip


@pytest.mark.parametrize("fmt", ["decathlon", "nnunet"])
def test_shards_in_parallel_processes_equal_one_run(tmp_path: Path, fmt: str) -> None:
    preset = write_preset(tmp_path / "tiny.yaml")
    ref, out = tmp_path / "ref", tmp_path / "sharded"
    generate(load_preset(preset), ref, format=fmt, progress=False)
    procs = [
        subprocess.Popen(
            argv(preset, out, "--format", fmt, "--shard", f"{k}/3"),
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for k in (1, 2, 3)
    ]
    outs = [p.communicate(timeout=300) for p in procs]
    assert all(p.returncode == 0 for p in procs), [e.decode() for _, e in outs]
    # the last shard to finish finalized it: same files, same bytes, no journal left
    assert tree(out) == tree(ref)
    assert json.loads(next(out.rglob(MANIFEST)).read_text())["complete"]


def test_shard_resume_and_finalize(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    preset = write_preset(tmp_path / "tiny.yaml")
    ref, out = tmp_path / "ref", tmp_path / "sharded"
    generate(load_preset(preset), ref, progress=False)
    base = ["generate", "--preset", str(preset), "--out", str(out), "--quiet"]
    assert main([*base, "--shard", "2/2"]) == 0
    assert "dataset.json comes with the last shard" in capsys.readouterr().out
    assert not (out / "dataset.json").exists()
    assert main([*base, "--finalize"]) == 2  # shard 1 missing: one line, nothing written
    err = capsys.readouterr().err
    assert "3 of 6 cases missing" in err and len(err.strip().splitlines()) == 1
    assert not (out / "dataset.json").exists()
    assert main([*base, "--shard", "2/2"]) == 2  # done already: --resume to check it
    assert "--resume" in capsys.readouterr().err
    assert main([*base, "--shard", "1/2"]) == 0  # the last shard: finalizes
    assert tree(out) == tree(ref)
    # a damaged case: --finalize finds it, the shard's --resume redoes it
    case = out / "imagesTr" / "case_00001.nii.gz"
    case.write_bytes(case.read_bytes()[:50])
    assert main([*base, "--finalize"]) == 2
    assert "case_00001" in capsys.readouterr().err
    assert main([*base, "--shard", "1/2", "--resume"]) == 0
    assert "1 finished case(s) did not match" in capsys.readouterr().out
    assert main([*base, "--finalize"]) == 0
    assert tree(out) == tree(ref)


def test_shards_cover_every_case_once() -> None:
    cases = ExportPlan("decathlon", "segmentation", 10, 3).cases()
    for n in (1, 2, 3, 5, 13, 20):
        parts = [shard_cases(cases, (k, n)) for k in range(1, n + 1)]
        assert [c.index for p in parts for c in p] == list(range(13))


@pytest.mark.parametrize("value", ["0/4", "5/4", "1/0", "x", "2/", "1/2/3"])
def test_bad_shard_fails_in_one_line(
    tmp_path: Path, value: str, capsys: pytest.CaptureFixture
) -> None:
    preset = write_preset(tmp_path / "tiny.yaml")
    out = str(tmp_path / "o")
    assert main(["generate", "--preset", str(preset), "--out", out, f"--shard={value}"]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and "--shard" in lines[0] and "K/N" in lines[0]
    assert not (tmp_path / "o").exists()


def test_slurm_array_script_runs_a_valid_sharded_generate() -> None:
    import shlex

    from fdif_core.cli.main import build_parser

    text = (ROOT / "scripts" / "slurm" / "generate.sbatch").read_text().replace("\\\n", " ")
    line = next(x for x in text.splitlines() if x.startswith("srun fdif-core"))
    line = line.replace('"$shard"', "3/16")
    line = line.replace('"$SLURM_CPUS_PER_TASK"', "8")
    for var, value in (("PRESET", "fdif-paper"), ("OUT", "data/fdif"), ("NUM", "5000")):
        line = line.replace(f'"${var}"', value)
    args = build_parser().parse_args(shlex.split(line)[2:])
    assert args.shard == (3, 16) and args.resume and args.num_samples == 5000


def test_resume_starts_a_fresh_shard(tmp_path: Path) -> None:
    """The array script always passes --resume: on an empty folder it starts the shard."""
    preset = write_preset(tmp_path / "tiny.yaml")
    out = tmp_path / "sharded"
    for k in (1, 2):
        assert main(["generate", "--preset", str(preset), "--out", str(out), "--quiet",
                     "--shard", f"{k}/2", "--resume"]) == 0  # fmt: skip
    generate(load_preset(preset), tmp_path / "ref", progress=False)
    assert tree(out) == tree(tmp_path / "ref")
