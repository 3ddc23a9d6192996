"""Dataset layouts: nnU-Net v2, Decathlon, MONAI JSON -> one datalist; broken cases fail clearly."""

from __future__ import annotations

import gzip
import json
import shutil
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

from fdif_core.cli.main import main
from fdif_core.errors import UserError
from fdif_core.real import load_dataset
from fdif_core.real.toy import TOY_LABELS, write_toy_dataset

LAYOUTS = ["nnunet", "msd", "datalist"]


@pytest.fixture(scope="module")
def toy_layouts(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("layouts")
    return {
        lay: write_toy_dataset(root / lay, lay, num_cases=4, channels=2, modality="T2")
        for lay in LAYOUTS
    }


def _loaded(case_item: dict) -> np.ndarray:
    from monai.transforms import LoadImaged

    d = LoadImaged(["image"], ensure_channel_first=True)(case_item)
    return np.asarray(d["image"])


def test_layouts_read_into_the_same_datalist(toy_layouts):
    read = {lay: load_dataset(p) for lay, p in toy_layouts.items()}
    for lay, ds in read.items():
        assert ds.layout == lay
        assert ds.labels == TOY_LABELS
        assert ds.channels == ["T2", "T2"]
        assert sorted(ds.cases) == [f"toy_{i:03d}" for i in range(4)]
    # the JSON datalist keeps its own validation list apart
    assert [c.id for c in read["datalist"].validation] == ["toy_003"]
    assert read["nnunet"].validation is None
    for cid in read["nnunet"].cases:
        ref = _loaded(read["nnunet"].cases[cid].item())
        assert ref.shape[0] == 2  # channels first, from _0000/_0001 files or a 4D file
        for lay in ("msd", "datalist"):
            np.testing.assert_array_equal(_loaded(read[lay].cases[cid].item()), ref)
            lab = nib.load(read[lay].cases[cid].label).get_fdata()
            np.testing.assert_array_equal(
                lab, nib.load(read["nnunet"].cases[cid].label).get_fdata()
            )


def _break(ds_path: Path, how: str) -> str:
    """Damage case toy_001 of a dataset; returns the case id the error must name."""
    ds = load_dataset(ds_path, check=False)
    case = ds.cases["toy_001"]
    if how == "missing_label":
        case.label.unlink()
    elif how == "corrupt":
        case.images[0].write_bytes(gzip.compress(b"this is not a NIfTI file at all" * 20))
    else:
        img = nib.load(case.label)
        data = np.asarray(img.dataobj)
        if how == "shape":
            data = data[:-2]
            new = nib.Nifti1Image(data, img.affine)
        else:
            aff = img.affine.copy()
            aff[:3, 3] += 7.0
            new = nib.Nifti1Image(data, aff)
        nib.save(new, str(case.label))
    return case.id


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("how", ["missing_label", "shape", "affine", "corrupt"])
def test_broken_case_fails_with_one_line_naming_it(tmp_path, toy_layouts, layout, how):
    src = toy_layouts[layout]
    dst = tmp_path / layout
    if src.is_dir():
        shutil.copytree(src, dst)
    else:
        shutil.copytree(src.parent, dst)
        dst = dst / src.name
    cid = _break(dst, how)
    with pytest.raises(UserError) as err:
        load_dataset(dst)
    msg = str(err.value)
    assert f"case {cid}" in msg and "\n" not in msg
    assert {
        "missing_label": "missing label",
        "shape": "shape",
        "affine": "affine",
        "corrupt": "cannot read",
    }[how] in msg


def test_cli_reports_broken_dataset_in_one_line(tmp_path, toy_layouts, capsys):
    dst = tmp_path / "ds"
    shutil.copytree(toy_layouts["nnunet"], dst)
    _break(dst, "missing_label")
    code = main(["finetune", "--dataset", str(dst), "--scratch", "--out", str(tmp_path / "run")])
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert err.count("\n") == 0 and "case toy_001: missing label" in err


@pytest.mark.parametrize(
    ("edit", "needle"),
    [
        (lambda m: m["labels"].update({"tumour": [1, 2]}), "region-based"),
        (lambda m: m["labels"].update({"gap": 7}), "consecutive"),
        (lambda m: m.update({"numTraining": 9}), "numTraining"),
        (lambda m: m.update({"channel_names": {"0": "T2"}}), "channel files"),
    ],
)
def test_bad_dataset_json_is_one_line(tmp_path, toy_layouts, edit, needle):
    dst = tmp_path / "ds"
    shutil.copytree(toy_layouts["nnunet"], dst)
    meta = json.loads((dst / "dataset.json").read_text())
    edit(meta)
    (dst / "dataset.json").write_text(json.dumps(meta))
    with pytest.raises(UserError, match=needle):
        load_dataset(dst)


def test_not_a_dataset(tmp_path):
    with pytest.raises(UserError, match=r"no dataset\.json"):
        load_dataset(tmp_path)
    with pytest.raises(UserError, match="no such dataset"):
        load_dataset(tmp_path / "nope")
