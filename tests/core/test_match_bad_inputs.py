"""``fdif-core match`` on bad input: one line naming what is wrong, exit 2, nothing written,
nothing that existed changed."""

from __future__ import annotations

from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

from fdif_core.cli.main import main


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("match_bad")
    aff = np.diag([0.8, 0.8, 1.5, 1.0])
    data = np.random.default_rng(0).normal(40.0, 10.0, (20, 18, 12)).astype(np.float32)
    nib.save(nib.Nifti1Image(data, aff), d / "ct.nii.gz")
    nan = data.copy()
    nan[5, 5, 5] = np.nan
    nib.save(nib.Nifti1Image(nan, aff), d / "nan.nii.gz")
    nib.save(nib.Nifti1Image(data[:, :, 0], aff), d / "flat2d.nii.gz")
    nib.save(nib.Nifti1Image(np.stack([data, data], -1), aff), d / "two.nii.gz")
    lab = np.zeros(data.shape, np.uint8)
    lab[2:10, 2:10, 2:8] = 4
    nib.save(nib.Nifti1Image(lab, aff), d / "lab.nii.gz")
    nib.save(nib.Nifti1Image(lab[:10], aff), d / "small_lab.nii.gz")
    (d / "notes.nii.gz").write_text("not an image")
    (d / "old.yaml").write_text("keep me\n")
    return d


ROI = "2:18,2:16,1:11"
# (arguments after --scan/--out, text the one line must hold)
CASES = {
    "missing scan": (["--scan", "{d}/nope.nii.gz", "--roi", ROI], "no such file"),
    "not nifti": (["--scan", "{d}/notes.nii.gz", "--roi", ROI], "cannot read as NIfTI"),
    "2D scan": (["--scan", "{d}/flat2d.nii.gz", "--roi", ROI], "a 3D image is needed"),
    "4D scan": (["--scan", "{d}/two.nii.gz", "--roi", ROI], "a 3D image is needed"),
    "NaN scan": (["--scan", "{d}/nan.nii.gz", "--roi", ROI], "NaN or infinite"),
    "roi out of bounds": (["--roi", "0:25,0:10,0:10"], "outside 0:20"),
    "roi negative": (["--roi=-2:10,0:10,0:10"], "outside 0:20"),
    "roi empty": (["--roi", "5:5,0:10,0:10"], "empty or reversed"),
    "roi reversed": (["--roi", "9:3,0:10,0:10"], "empty or reversed"),
    "roi two ranges": (["--roi", "0:5,0:5"], "2 ranges"),
    "roi words": (["--roi", "a:b,0:5,0:5"], "give I0:I1,J0:J1,K0:K1"),
    "roi too small": (["--roi", "0:2,0:2,0:10"], "needs at least 64 voxels"),
    "no region": ([], "give --roi"),
    "mask without label": (["--mask", "{d}/lab.nii.gz"], "--mask and --label go together"),
    "label without mask": (["--label", "4"], "--mask and --label go together"),
    "label absent": (["--mask", "{d}/lab.nii.gz", "--label", "9"], "present: [4]"),
    "mask shape": (["--mask", "{d}/small_lab.nii.gz", "--label", "4"], "differs from the scan"),
    "mask missing": (["--mask", "{d}/none.nii.gz", "--label", "4"], "no such file"),
    "negative label": (["--mask", "{d}/lab.nii.gz", "--label", "-1"], "allowed 0.."),
    "preview suffix": (["--roi", ROI, "--preview", "{d}/p.png"], "give a .nii or .nii.gz"),
    "unknown preset": (["--roi", ROI, "--preset", "nosuch"], "nosuch"),
    "bad name": (["--roi", ROI, "--name", "a b"], "--name"),
    "same files": (["--roi", ROI, "--json", "{d}/new.yaml"], "different files"),
}


def _run(args: list[str], out: Path, capsys) -> tuple[int, str]:
    argv = ["match", "--out", str(out), *args]
    if "--scan" not in args:
        argv += ["--scan", str(out.parent / "ct.nii.gz")]
    rc = main(argv)
    return rc, capsys.readouterr().err


@pytest.mark.parametrize("name", list(CASES))
def test_bad_input_is_one_line_and_exit_2(name, files, capsys) -> None:
    args, expected = CASES[name]
    args = [a.replace("{d}", str(files)) for a in args]
    out = files / "new.yaml"
    before = sorted(p.name for p in files.iterdir())
    rc, err = _run(args, out, capsys)
    assert rc == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    assert expected in lines[0], lines[0]
    assert sorted(p.name for p in files.iterdir()) == before  # nothing written


def test_existing_out_is_kept_without_overwrite(files, capsys) -> None:
    old = files / "old.yaml"
    rc, err = _run(["--roi", ROI], old, capsys)
    assert rc == 2 and "exists; pass --overwrite" in err and len(err.strip().splitlines()) == 1
    assert old.read_text() == "keep me\n"
