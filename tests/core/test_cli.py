"""The fdif-core command line, run as a user runs it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
from PIL import Image

from fdif_core.cli.main import main
from fdif_core.presets import load_preset


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "fdif_core", *args], capture_output=True, text=True, timeout=300
    )


def test_classes_lines_are_labels(capsys: pytest.CaptureFixture) -> None:
    assert main(["classes", "--preset", "fdif-paper"]) == 0
    lines = capsys.readouterr().out.splitlines()
    names = load_preset("fdif-paper").recipe().label_names
    assert [ln.split("\t")[0] for ln in lines] == names
    assert lines[1] == "sphere\tbasic" and lines[-1].split("\t")[1] == "star_torus"


def test_sample_writes_nifti_and_preview(tmp_path: Path) -> None:
    out = tmp_path / "s"
    assert main(["sample", "--preset", "quickstart", "--seed", "2", "--out", str(out)]) == 0
    img = nib.load(out / "image.nii.gz")
    lab = nib.load(out / "label.nii.gz")
    expected = load_preset("quickstart").recipe().sample(2)
    assert img.shape == (40, 40, 40) and img.get_data_dtype() == np.uint8  # the preset's shape
    assert np.array_equal(np.asarray(img.dataobj), expected.image.numpy())
    assert np.array_equal(np.asarray(lab.dataobj), expected.label.numpy())
    assert np.allclose(img.affine, np.diag([1.0, 1.0, 1.0, 1.0]))
    png = Image.open(out / "preview.png")
    assert png.mode == "RGB" and png.size[0] > png.size[1] > 0


def test_sample_shape_changes_spacing_not_scene(tmp_path: Path) -> None:
    out = tmp_path / "half"
    assert (
        main(["sample", "--preset", "quickstart", "--out", str(out), "--shape", "20", "20", "20"])
        == 0
    )
    img = nib.load(out / "image.nii.gz")
    assert img.shape == (20, 20, 20)
    assert np.allclose(np.diag(img.affine)[:3], [2.0, 2.0, 2.0])  # 40^3 at 1 mm -> 20^3


def test_count_writes_k_samples(tmp_path: Path) -> None:
    assert (
        main(
            [
                "sample",
                "--preset",
                "quickstart",
                "--out",
                str(tmp_path),
                "--count",
                "2",
                "--shape",
                "16",
                "16",
                "16",
            ]
        )
        == 0
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sample_00000", "sample_00001"]


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["classes", "--preset", "nope"], "nope: no such preset file"),
        (["sample", "--preset", "quickstart", "--out", "/proc/forbidden"], "--out: cannot create"),
        (["sample", "--preset", "quickstart", "--out", "x", "--shape", "0", "4", "4"], "--shape"),
        (["sample", "--preset", "quickstart", "--out", "x", "--device", "cuda"], "--device cuda"),
    ],
)
def test_bad_input_is_one_line_without_traceback(args: list[str], needle: str) -> None:
    proc = run(*args)
    assert proc.returncode == 2
    err = proc.stderr.strip()
    assert needle in err and "Traceback" not in err and len(err.splitlines()) == 1


def test_presets_validate_reports_each_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("objects: {per_volume: -2}\n")
    proc = run("presets", "validate", "quickstart", str(bad))
    assert proc.returncode == 2
    assert proc.stdout.startswith("ok: quickstart")
    assert f"{bad}: objects.per_volume" in proc.stderr


def test_help_lists_commands() -> None:
    proc = run("--help")
    assert proc.returncode == 0
    for verb in ("classes", "sample", "presets", "list", "bench"):
        assert verb in proc.stdout
