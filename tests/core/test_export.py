"""``fdif-core generate``: layouts read back by nibabel and MONAI, determinism, resume, errors."""

from __future__ import annotations

import gzip
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
import yaml

from fdif_core import load_preset
from fdif_core.cli.main import main
from fdif_core.dtypes import label_dtype
from fdif_core.io.nifti import nifti_bytes
from fdif_core.synthetic.export import JOURNAL, MANIFEST, generate
from fdif_core.synthetic.export import writer as writer_mod

ROOT = Path(__file__).resolve().parents[2]
TINY = {
    "version": 1,
    "name": "tiny",
    "seed": 3,
    "volume": {"shape": [20, 18, 16], "spacing": [1.5, 1.0, 2.0]},
    "objects": {"per_volume": 4},
    "classes": {"include": ["basic"]},
    "displacements": {"enabled": ["perlin_fine", "ridge_coarse"]},
    "mappers": {"enabled": ["exponential_base_1.5", "linear_slope_10.0"]},
    "dataset": {"num_samples": 4, "num_val": 2},
}


def write_preset(path: Path, **changes) -> Path:
    data = json.loads(json.dumps(TINY))
    for key, value in changes.items():
        section, _, field = key.partition("__")
        if field:
            data[section][field] = value
        else:
            data[section] = value
    path.write_text(yaml.safe_dump(data))
    return path


@pytest.fixture
def tiny(tmp_path: Path) -> Path:
    return write_preset(tmp_path / "tiny.yaml")


def tree(root: Path) -> dict[str, bytes]:
    """Every file under ``root`` (hidden ones included) by relative path."""
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


def run_cli(*argv: str) -> int:
    return main(["generate", *argv, "--quiet"])


# ---------------------------------------------------------------- layouts read back
def test_decathlon_reads_back_with_nibabel_and_monai(tiny: Path, tmp_path: Path) -> None:
    from monai.data import load_decathlon_datalist
    from monai.transforms import LoadImaged

    out = tmp_path / "ds"
    assert run_cli("--preset", str(tiny), "--out", str(out)) == 0
    preset = load_preset(tiny)
    recipe = preset.recipe()
    meta = json.loads((out / "dataset.json").read_text())
    assert meta["labels"] == {str(i): n for i, n in enumerate(recipe.label_names)}
    assert (meta["numTraining"], meta["numValidation"]) == (4, 2)
    train = load_decathlon_datalist(out / "dataset.json", data_list_key="training")
    val = load_decathlon_datalist(out / "dataset.json", data_list_key="validation")
    assert len(train) == 4 and len(val) == 2
    aff = np.diag([1.5, 1.0, 2.0, 1.0])
    for i, item in enumerate(train + val):
        assert Path(item["image"]).is_file() and Path(item["label"]).is_file()
        img, lab = nib.load(item["image"]), nib.load(item["label"])
        assert img.shape == lab.shape == (20, 18, 16)
        assert img.get_data_dtype() == np.uint8 and lab.get_data_dtype() == np.uint8
        np.testing.assert_allclose(img.affine, aff)
        np.testing.assert_allclose(lab.affine, aff)
        s = recipe.sample(i)  # case i is sample i of the recipe
        np.testing.assert_array_equal(np.asarray(img.dataobj), s.image.numpy())
        labels = np.asarray(lab.dataobj)
        np.testing.assert_array_equal(labels, s.label.numpy())
        assert labels.max() < len(recipe.label_names)
    assert sum(len(np.unique(np.asarray(nib.load(t["label"]).dataobj))) > 1 for t in train) > 0
    loaded = LoadImaged(keys=["image", "label"], image_only=False)(train[0])
    assert tuple(loaded["image"].shape) == (20, 18, 16)
    np.testing.assert_allclose(np.asarray(loaded["image"].affine), aff)
    man = json.loads((out / MANIFEST).read_text())
    assert man["complete"] and man["classes"]["shape"] == recipe.label_names
    assert [c["index"] for c in man["cases"]] == list(range(6))
    assert not (out / JOURNAL).exists()


def test_nifti_bytes_are_deterministic_gzip() -> None:
    a = np.arange(6 * 5 * 4, dtype=np.uint8).reshape(6, 5, 4)
    data = nifti_bytes(a, (1.0, 2.0, 3.0))
    time.sleep(1.1)  # a gzip mtime would now differ
    assert nifti_bytes(a, (1.0, 2.0, 3.0)) == data
    assert data[:2] == b"\x1f\x8b" and data[3] & 0x08 == 0  # no file name in the header
    assert data[4:8] == b"\0\0\0\0"  # mtime 0
    img = nib.Nifti1Image.from_bytes(gzip.decompress(data))
    np.testing.assert_array_equal(np.asarray(img.dataobj), a)


@pytest.mark.parametrize(
    ("n", "dtype"), [(9, np.uint8), (256, np.uint8), (257, np.int16), (32769, np.int32)]
)
def test_label_dtype(n: int, dtype: type) -> None:
    assert label_dtype(n) == np.dtype(dtype)


def test_more_than_255_classes_give_int16_labels(tmp_path: Path) -> None:
    preset = write_preset(
        tmp_path / "many.yaml",
        classes={"include": ["all"]},
        labels={"mode": "classes", "combine": ["mapper", "displacement"]},
    )
    out = tmp_path / "ds"
    assert (
        run_cli("--preset", str(preset), "--out", str(out), "--num-samples", "1", "--num-val", "0")
        == 0
    )
    names = json.loads((out / "dataset.json").read_text())["labels"]
    assert len(names) == 1 + 109 * 2 * 3 > 256
    lab = nib.load(out / "labelsTr" / "case_00000.nii.gz")
    assert lab.get_data_dtype() == np.int16
    assert int(np.asarray(lab.dataobj).max()) < len(names)


def test_multitask_writes_one_folder_per_task(tmp_path: Path) -> None:
    from monai.data import load_decathlon_datalist

    preset = write_preset(tmp_path / "mt.yaml", labels={"mode": "multitask"})
    out = tmp_path / "ds"
    assert run_cli("--preset", str(preset), "--out", str(out), "--num-val", "0") == 0
    recipe = load_preset(preset).recipe()
    meta = json.loads((out / "dataset.json").read_text())
    assert list(meta["labels_mapper"].values()) == recipe.task_names()["mapper"]
    items = load_decathlon_datalist(out / "dataset.json")
    for i, item in enumerate(items):
        s = recipe.sample(i)
        for task in ("displacement", "mapper"):
            assert Path(item[f"label_{task}"]).parent.name == f"labelsTr_{task}"
            got = np.asarray(nib.load(item[f"label_{task}"]).dataobj)
            np.testing.assert_array_equal(got, s.labels[task].numpy())
    assert (
        run_cli("--preset", str(preset), "--out", str(tmp_path / "nn"), "--format", "nnunet") == 2
    )


def test_classification_index_and_classes(tiny: Path, tmp_path: Path) -> None:
    from monai.data import load_decathlon_datalist

    out = tmp_path / "cls"
    assert run_cli("--preset", str(tiny), "--out", str(out), "--task", "classification") == 0
    recipe = load_preset(tiny).recipe()
    classes = (out / "classes.txt").read_text().splitlines()
    assert classes == recipe.label_names[1:]
    rows = (out / "index.csv").read_text().splitlines()
    assert rows[0] == "path,class,name,split" and len(rows) == 7
    items = load_decathlon_datalist(
        out / "dataset.json", is_segmentation=False, data_list_key="training"
    )
    for i, (row, item) in enumerate(zip(rows[1:5], items, strict=False)):
        path, cls, name, split = row.split(",")
        img, want = recipe.classification_sample(i)
        assert (int(cls), name, split) == (want, classes[want], "train")
        assert item["label"] == want and Path(item["image"]) == out / path
        got = nib.load(item["image"])
        assert got.get_data_dtype() == np.float32
        np.testing.assert_array_equal(np.asarray(got.dataobj), img.numpy())
    assert not (out / "labelsTr").exists()


# ---------------------------------------------------------------- nnU-Net v2
def test_nnunet_layout_meets_dataset_requirements(tiny: Path, tmp_path: Path) -> None:
    """nnU-Net v2's documented raw-dataset rules (dataset_format.md, verify_dataset_integrity)."""
    out = tmp_path / "raw"
    assert run_cli("--preset", str(tiny), "--out", str(out), "--format", "nnunet") == 0
    root = out / "Dataset501_tiny"
    ds = json.loads((root / "dataset.json").read_text())
    assert {"channel_names", "labels", "numTraining", "file_ending"} <= set(ds)
    assert ds["file_ending"] == ".nii.gz" and list(ds["channel_names"]) == ["0"]
    names = load_preset(tiny).recipe().label_names
    assert ds["labels"] == {n: i for i, n in enumerate(names)}
    assert sorted(ds["labels"].values()) == list(range(len(names)))  # consecutive from 0
    labels = sorted((root / "labelsTr").glob("*.nii.gz"))
    images = sorted((root / "imagesTr").glob("*.nii.gz"))
    assert ds["numTraining"] == len(labels) == len(images) == 4
    for lab_path in labels:
        case = lab_path.name.removesuffix(".nii.gz")
        img_path = root / "imagesTr" / f"{case}_0000.nii.gz"
        img, lab = nib.load(img_path), nib.load(lab_path)
        assert img.shape == lab.shape
        np.testing.assert_allclose(img.affine, lab.affine)
        assert set(np.unique(np.asarray(lab.dataobj)).tolist()) <= set(ds["labels"].values())
    assert len(list((root / "imagesTs").glob("*_0000.nii.gz"))) == 2
    assert not list(root.rglob(".*"))  # no hidden file nnU-Net would pick up


def test_nnunet_verify_dataset_integrity(tiny: Path, tmp_path: Path) -> None:
    """nnU-Net's own check, where nnunetv2 is installed."""
    pytest.importorskip("nnunetv2")
    from nnunetv2.experiment_planning.verify_dataset_integrity import verify_dataset_integrity

    out = tmp_path / "raw"
    assert run_cli("--preset", str(tiny), "--out", str(out), "--format", "nnunet") == 0
    verify_dataset_integrity(str(out / "Dataset501_tiny"), num_processes=1)


# ---------------------------------------------------------------- determinism
def test_workers_give_identical_files(tiny: Path, tmp_path: Path) -> None:
    preset = load_preset(tiny)
    kw = {"num_samples": 5, "num_val": 1, "progress": False}
    one = generate(preset, tmp_path / "w1", workers=1, **kw)
    two = generate(preset, tmp_path / "w2", workers=2, **kw)
    threads = generate(preset, tmp_path / "t2", workers=2, strategy="inline", **kw)
    assert (one.written, two.written, threads.written) == (6, 6, 6)
    ref = tree(tmp_path / "w1")
    assert len(ref) == 6 * 2 + 3
    assert tree(tmp_path / "w2") == ref
    assert tree(tmp_path / "t2") == ref


# ---------------------------------------------------------------- resume
@pytest.mark.parametrize(
    ("format", "task"),
    [("decathlon", "segmentation"), ("decathlon", "classification"), ("nnunet", "segmentation")],
)
def test_resume_after_crash_is_identical(
    tiny: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, format: str, task: str
) -> None:
    preset = load_preset(tiny)
    kw = {"format": format, "task": task, "progress": False}
    ref = generate(preset, tmp_path / "ref", **kw).root
    real_write, calls = writer_mod.write, []

    def crashing_write(job, rendered, parent=None):
        calls.append(rendered.case.index)
        if len(calls) == 4:
            # die half-way through case 3: its image written, a temp file left, no journal line
            image = job.root / rendered.case.files["image"]
            (image.parent / f".{image.name.split('.')[0]}.x1y2.tmp.nii.gz").write_bytes(b"part")
            image.write_bytes(nifti_bytes(rendered.arrays["image"], (1.5, 1.0, 2.0)))
            raise KeyboardInterrupt
        return real_write(job, rendered, parent)

    monkeypatch.setattr("fdif_core.synthetic.export.executors.write", crashing_write)
    with pytest.raises(KeyboardInterrupt):
        generate(preset, tmp_path / "ds", **kw)
    out = tmp_path / "ds" / ref.relative_to(tmp_path / "ref")
    assert not json.loads((out / MANIFEST).read_text())["complete"]
    assert not (out / "dataset.json").exists()
    assert len((out / JOURNAL).read_text().splitlines()) == 3
    assert not any(p.name.startswith(".case_00003") for p in out.rglob(".*"))  # cleaned up
    monkeypatch.setattr("fdif_core.synthetic.export.executors.write", real_write)

    with pytest.raises(Exception, match="pass resume to finish"):  # the argument, not a flag
        generate(preset, tmp_path / "ds", **kw)
    res = generate(preset, tmp_path / "ds", resume=True, **kw)
    assert res.written == 3  # cases 3, 4, 5; 0-2 kept
    assert tree(out) == tree(ref)
    again = generate(preset, tmp_path / "ds", resume=True, **kw)
    assert again.written == 0 and tree(out) == tree(ref)


@pytest.mark.parametrize("complete", [True, False])
def test_resume_redoes_files_that_fail_their_checksums(
    tiny: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], complete: bool
) -> None:
    ref = generate(load_preset(tiny), tmp_path / "ref", progress=False).root
    out = tmp_path / "ds"
    assert run_cli("--preset", str(tiny), "--out", str(out)) == 0
    manifest = json.loads((out / MANIFEST).read_text())
    if not complete:  # an interrupted job: checksums in the journal only
        records = [
            {"index": c["index"], "sha256": {r: f["sha256"] for r, f in c["files"].items()}}
            for c in manifest["cases"]
        ]
        (out / JOURNAL).write_text("".join(json.dumps(r) + "\n" for r in records))
        manifest["complete"] = False
        for c in manifest["cases"]:
            for f in c["files"].values():
                f["sha256"] = None
        (out / MANIFEST).write_text(json.dumps(manifest))
        (out / "dataset.json").unlink()
    image = out / "imagesTr" / "case_00001.nii.gz"
    image.write_bytes(image.read_bytes()[:100])  # truncated
    label = out / "labelsTr" / "case_00002.nii.gz"
    label.write_bytes(label.read_bytes()[:-1] + b"x")  # one byte changed, same size
    (out / "imagesVal" / "case_00004.nii.gz").unlink()  # missing
    capsys.readouterr()
    assert run_cli("--preset", str(tiny), "--out", str(out), "--resume") == 0
    printed = capsys.readouterr().out
    assert "3 written now" in printed and "3 finished case(s) did not match" in printed
    assert tree(out) == tree(ref)
    assert run_cli("--preset", str(tiny), "--out", str(out), "--resume") == 0
    assert "did not match" not in capsys.readouterr().out


def test_kill_9_then_resume_is_identical(tmp_path: Path) -> None:
    preset = write_preset(
        tmp_path / "kill.yaml", volume={"shape": [32, 32, 32], "spacing": [1.0, 1.0, 1.0]}
    )
    out = tmp_path / "ds"
    argv = [sys.executable, "-m", "fdif_core", "generate", "--preset", str(preset)]
    argv += ["--out", str(out), "--num-samples", "60", "--num-val", "4", "--workers", "2"]
    proc = subprocess.Popen(argv, cwd=ROOT, start_new_session=True, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while len(list((out / "labelsTr").glob("case_*"))) < 4:
            assert proc.poll() is None and time.monotonic() < deadline, "job ended too soon"
            time.sleep(0.005)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    assert not json.loads((out / MANIFEST).read_text())["complete"]
    visible = [p for p in out.rglob("*.nii.gz") if not p.name.startswith(".")]
    assert 4 <= len(visible) < 2 * 64
    for p in visible:  # every file that has its name is whole
        assert np.asarray(nib.load(p).dataobj).shape == (32, 32, 32)

    done = subprocess.run([*argv, "--resume", "--quiet"], cwd=ROOT, capture_output=True)
    assert done.returncode == 0, done.stderr.decode()
    generate(load_preset(preset), tmp_path / "ref", num_samples=60, num_val=4, progress=False)
    assert tree(out) == tree(tmp_path / "ref")


def _die(case):  # a worker killed mid-job (out-of-memory killer)
    os._exit(3)


def test_dead_worker_fails_in_one_line_then_resumes(
    tiny: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from fdif_core.errors import UserError

    preset = load_preset(tiny)
    monkeypatch.setattr("fdif_core.synthetic.export.executors.run_case", _die)
    with pytest.raises(UserError, match=r"worker process died.*rerun with resume"):
        generate(preset, tmp_path / "ds", workers=2, progress=False)
    monkeypatch.undo()
    res = generate(preset, tmp_path / "ds", workers=2, resume=True, progress=False)
    assert res.written == 6 and (tmp_path / "ds" / "dataset.json").is_file()


# ---------------------------------------------------------------- bad input
def snapshot(root: Path) -> dict[str, tuple[bytes, int]]:
    return {
        str(p.relative_to(root)): (p.read_bytes(), p.stat().st_mtime_ns)
        for p in root.rglob("*")
        if p.is_file()
    }


def test_refuses_folder_from_another_preset_and_keeps_it(
    tiny: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "ds"
    assert run_cli("--preset", str(tiny), "--out", str(out)) == 0
    (out / "notes.txt").write_text("mine")
    before = snapshot(out)
    other = write_preset(tmp_path / "other.yaml", seed=4)
    capsys.readouterr()
    for extra in ([], ["--resume"]):
        assert run_cli("--preset", str(other), "--out", str(out), *extra) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "Traceback" not in err
        assert "seed 3 -> 4" in err and "--overwrite" in err
    assert run_cli("--preset", str(tiny), "--out", str(out), "--num-samples", "5") == 2
    assert "num_samples 4 -> 5" in capsys.readouterr().err
    assert run_cli("--preset", str(tiny), "--out", str(out)) == 2  # same job: asks for --resume
    assert "--resume" in capsys.readouterr().err
    assert snapshot(out) == before

    # --overwrite replaces the old dataset (its extra cases too) and keeps the user's file
    assert run_cli("--preset", str(other), "--out", str(out), "--overwrite", "--num-val", "0") == 0
    assert (out / "notes.txt").read_text() == "mine"
    assert not (out / "imagesVal").exists() or not list((out / "imagesVal").iterdir())
    assert json.loads((out / MANIFEST).read_text())["identity"]["seed"] == 4


BAD_INPUTS = [
    (["--num-samples", "0"], "--num-samples: 0: allowed 1 or more"),
    (["--num-samples", "-3"], "--num-samples: -3: allowed 1 or more"),
    (["--num-val", "-1"], "--num-val: -1: allowed 0 or more"),
    (["--workers", "0"], "--workers: 0: allowed 1.."),
    (["--format", "nnunet", "--dataset-id", "1000"], "--dataset-id: 1000: allowed 1..999"),
    (["--format", "nnunet", "--task", "classification"], "nnU-Net trains segmentation only"),
]


@pytest.mark.parametrize(("extra", "message"), BAD_INPUTS)
def test_bad_options_fail_in_one_line(
    tiny: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], extra: list[str], message: str
) -> None:
    out = tmp_path / "ds"
    assert run_cli("--preset", str(tiny), "--out", str(out), *extra) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err and "Traceback" not in err
    assert not out.exists() or not any(out.rglob("*.nii.gz"))


def test_bad_preset_unwritable_and_foreign_folders(
    tiny: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump({**TINY, "objects": {"per_volume": 0}}))
    assert run_cli("--preset", str(bad), "--out", str(tmp_path / "a")) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "objects.per_volume" in err and not (tmp_path / "a").exists()

    blocker = tmp_path / "file"
    blocker.write_text("x")
    assert run_cli("--preset", str(tiny), "--out", str(blocker / "sub")) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "cannot write" in err and blocker.read_text() == "x"

    foreign = tmp_path / "foreign"
    (foreign / "imagesTr").mkdir(parents=True)
    (foreign / "imagesTr" / "case_00000.nii.gz").write_bytes(b"precious")
    before = snapshot(foreign)
    assert run_cli("--preset", str(tiny), "--out", str(foreign)) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "holds no fdif-core dataset" in err
    assert snapshot(foreign) == before


def test_refuses_a_folder_another_job_is_writing(
    tiny: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fcntl = pytest.importorskip("fcntl")
    out = tmp_path / "ds"
    out.mkdir()
    fd = os.open(out, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # as a running job holds it
        assert run_cli("--preset", str(tiny), "--out", str(out), "--resume") == 2
        assert "another fdif-core generate is writing" in capsys.readouterr().err
        assert not list(out.iterdir())
    finally:
        os.close(fd)
    assert run_cli("--preset", str(tiny), "--out", str(out), "--resume") == 0


def test_nnunet_refuses_a_second_folder_with_the_same_id(tiny: Path, tmp_path: Path) -> None:
    (tmp_path / "raw" / "Dataset501_Other").mkdir(parents=True)
    assert run_cli("--preset", str(tiny), "--out", str(tmp_path / "raw"), "--format", "nnunet") == 2
    assert [p.name for p in (tmp_path / "raw").iterdir()] == ["Dataset501_Other"]
    argv = ["--preset", str(tiny), "--out", str(tmp_path / "raw"), "--format", "nnunet"]
    assert run_cli(*argv, "--dataset-id", "502") == 0
    assert (tmp_path / "raw" / "Dataset502_tiny" / "dataset.json").is_file()


# ---------------------------------------------------------------- sample --count
def test_sample_count_writes_k_samples_with_previews(tiny: Path, tmp_path: Path) -> None:
    out = tmp_path / "s"
    assert (
        main(["sample", "--preset", str(tiny), "--out", str(out), "--seed", "2", "--count", "2"])
        == 0
    )
    for i in (2, 3):
        folder = out / f"sample_{i:05d}"
        assert {p.name for p in folder.iterdir()} >= {"image.nii.gz", "label.nii.gz", "preview.png"}
    assert main(["sample", "--preset", str(tiny), "--out", str(out), "--count", "0"]) == 2
