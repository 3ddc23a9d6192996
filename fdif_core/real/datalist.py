"""Read labelled datasets in the layouts people have into one datalist.

Three layouts are understood, all read into the same :class:`Dataset`:

- an nnU-Net v2 raw dataset folder: ``dataset.json`` (``channel_names``, ``labels``,
  ``file_ending``), ``imagesTr/<case>_<XXXX><ending>`` (one file per channel),
  ``labelsTr/<case><ending>``, optional ``imagesTs/`` (and ``labelsTs/``);
- a Medical Segmentation Decathlon task folder: ``dataset.json`` with ``modality``,
  ``labels`` and a ``training`` list (multi-channel images are 4D files);
- a MONAI Decathlon-style JSON datalist file: ``training``, optional ``validation`` and
  ``test`` lists, paths relative to the file's folder.

Class names and channel modalities come from the dataset's own JSON.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from ..errors import ArgumentError, UserError, arg
from .checks import check_dims

Layout = Literal["nnunet", "msd", "datalist"]
NIFTI_ENDINGS = (".nii.gz", ".nii")


@dataclass(frozen=True)
class Case:
    """One labelled (or unlabelled test) case.

    Attributes:
        id: case identifier (file stem without channel suffix and ending).
        images: one file per channel (nnU-Net), or one possibly 4D file (MSD, MONAI JSON).
        label: label map file, or None for an unlabelled test case.
    """

    id: str
    images: tuple[Path, ...]
    label: Path | None = None

    def item(self) -> dict[str, Any]:
        """MONAI dictionary item: ``{"case", "image", "label"}`` (paths as strings)."""
        img: str | list[str] = (
            str(self.images[0]) if len(self.images) == 1 else [str(p) for p in self.images]
        )
        out: dict[str, Any] = {"case": self.id, "image": img}
        if self.label is not None:
            out["label"] = str(self.label)
        return out


@dataclass
class Dataset:
    """A labelled dataset in any supported layout.

    Attributes:
        name: dataset name from its JSON (or folder name).
        root: dataset folder (the JSON's folder for a MONAI datalist).
        layout: which layout it was read from.
        channels: modality of each input channel (``"CT"``, ``"MR"``, ``"T2"`` ...).
        labels: class names indexed by label value; ``labels[0]`` is the background.
        training: labelled training cases, sorted by id.
        validation: the dataset's own validation list, or None when it has none.
        test: test cases (labelled when the layout ships test labels).
    """

    name: str
    root: Path
    layout: Layout
    channels: list[str]
    labels: list[str]
    training: list[Case]
    validation: list[Case] | None = None
    test: list[Case] = field(default_factory=list)

    @property
    def num_classes(self) -> int:
        """Output channels of a network for this dataset (background included)."""
        return len(self.labels)

    @property
    def cases(self) -> dict[str, Case]:
        """All labelled training and validation cases by id."""
        return {c.id: c for c in [*self.training, *(self.validation or [])]}

    def datalist(self, ids: list[str] | None = None) -> list[dict[str, Any]]:
        """MONAI items of the given case ids (default: all training cases)."""
        cases = self.cases
        if ids is None:
            return [c.item() for c in self.training]
        missing = [i for i in ids if i not in cases]
        if missing:
            raise UserError(
                f"{self.root}: split names case(s) not in the dataset: {', '.join(missing[:5])}"
            )
        return [cases[i].item() for i in ids]

    def describe(self) -> str:
        return (
            f"{self.name} ({self.layout}): {len(self.training)} training"
            + (f" + {len(self.validation)} validation" if self.validation is not None else "")
            + f" + {len(self.test)} test cases, channels {self.channels}, "
            f"{self.num_classes - 1} foreground classes {self.labels[1:]}"
        )


def load_dataset(path: str | Path, *, check: bool = True) -> Dataset:
    """Read a dataset folder (nnU-Net v2 or MSD) or a MONAI JSON datalist.

    Args:
        path: dataset folder holding ``dataset.json``, or a ``.json`` datalist file.
        check: verify that every file exists and that image and label headers agree
            (shape, affine); errors name the case.

    Raises:
        UserError: the layout is not recognised, a field is missing, or a case is broken.
    """
    p = Path(path)
    if p.is_dir():
        meta_file = p / "dataset.json"
        if not meta_file.exists():
            raise UserError(
                f"{arg('dataset')} {p}: no dataset.json; expected an nnU-Net v2 or Decathlon "
                "folder or a MONAI JSON datalist file"
            )
        meta = _read_json(meta_file)
        if "channel_names" in meta or ("modality" not in meta and "file_ending" in meta):
            ds = _read_nnunet(p, meta)
        elif "training" in meta:
            ds = _read_json_datalist(meta_file, meta, layout="msd")
        else:
            raise UserError(
                f"{meta_file}: neither nnU-Net v2 (channel_names, file_ending) nor Decathlon "
                "(modality, training) fields"
            )
    elif p.is_file() and p.suffix == ".json":
        ds = _read_json_datalist(p, _read_json(p), layout="datalist")
    else:
        raise ArgumentError("dataset", "no such dataset folder or .json datalist", p)
    if not ds.training:
        raise UserError(f"{ds.root}: no training cases found")
    if check:
        for case in [*ds.training, *(ds.validation or []), *ds.test]:
            check_case(case, len(ds.channels))
    return ds


def _read_json(path: Path) -> dict[str, Any]:
    from ..io.untrusted import read_json

    return read_json(path, "dataset description (JSON)", dict)


def _channels(meta: dict[str, Any], key: str, source: Path) -> list[str]:
    raw = meta.get(key)
    if not isinstance(raw, dict) or not raw:
        raise UserError(f"{source}: {key}: expected a mapping like {{'0': 'CT'}}")
    try:
        order = sorted(raw, key=int)
    except ValueError:
        raise UserError(f"{source}: {key}: keys must be channel indices 0, 1, ...") from None
    if [int(k) for k in order] != list(range(len(order))):
        raise UserError(f"{source}: {key}: channel indices must be 0..{len(order) - 1}")
    return [str(raw[k]) for k in order]


def _labels(meta: dict[str, Any], source: Path, *, name_to_value: bool) -> list[str]:
    raw = meta.get("labels")
    if not isinstance(raw, dict) or not raw:
        raise UserError(f"{source}: labels: expected a mapping of class names and values")
    if name_to_value:  # nnU-Net v2: {"background": 0, "liver": 1}
        pairs = []
        for name, value in raw.items():
            if name == "ignore":
                raise UserError(f"{source}: labels.ignore: ignore labels are not supported")
            if not isinstance(value, int) or isinstance(value, bool):
                raise UserError(
                    f"{source}: labels.{name}: region-based labels ({value!r}) are not "
                    "supported; allowed: one integer value per class"
                )
            pairs.append((value, name))
    else:  # Decathlon: {"0": "background", "1": "liver"}
        try:
            pairs = [(int(k), str(v)) for k, v in raw.items()]
        except ValueError:
            raise UserError(f"{source}: labels: keys must be integer label values") from None
    pairs.sort()
    values = [v for v, _ in pairs]
    if values != list(range(len(values))):
        raise UserError(
            f"{source}: labels: values must be consecutive 0..{len(values) - 1}, got {values}"
        )
    if len(values) < 2:
        raise UserError(f"{source}: labels: need background and at least one class")
    return [n for _, n in pairs]


_CHANNEL = re.compile(r"^(?P<case>.+)_(?P<ch>\d{4})$")


def _strip(name: str, ending: str) -> str | None:
    return name[: -len(ending)] if name.endswith(ending) else None


def _nnunet_cases(images: Path, labels: Path | None, ending: str, nch: int) -> list[Case]:
    by_case: dict[str, dict[int, Path]] = {}
    for f in sorted(images.iterdir()):
        stem = _strip(f.name, ending)
        if stem is None or f.name.startswith("."):
            continue
        m = _CHANNEL.match(stem)
        if not m:
            raise UserError(
                f"{f}: image name must end in _XXXX{ending} (channel index, e.g. _0000)"
            )
        by_case.setdefault(m["case"], {})[int(m["ch"])] = f
    cases = []
    for cid, chans in sorted(by_case.items()):
        if sorted(chans) != list(range(nch)):
            have = ", ".join(f"_{c:04d}" for c in sorted(chans))
            raise UserError(f"case {cid}: has channel files {have}; dataset.json names {nch}")
        label = None
        if labels is not None:
            label = labels / f"{cid}{ending}"
        cases.append(Case(cid, tuple(chans[c] for c in range(nch)), label))
    return cases


def _read_nnunet(root: Path, meta: dict[str, Any]) -> Dataset:
    source = root / "dataset.json"
    channels = _channels(meta, "channel_names" if "channel_names" in meta else "modality", source)
    labels = _labels(meta, source, name_to_value=True)
    ending = meta.get("file_ending", ".nii.gz")
    if not (root / "imagesTr").is_dir():
        raise UserError(f"{root}: nnU-Net dataset without an imagesTr/ folder")
    training = _nnunet_cases(root / "imagesTr", root / "labelsTr", ending, len(channels))
    test: list[Case] = []
    if (root / "imagesTs").is_dir():
        lab_ts = root / "labelsTs" if (root / "labelsTs").is_dir() else None
        test = _nnunet_cases(root / "imagesTs", lab_ts, ending, len(channels))
    n = meta.get("numTraining")
    if isinstance(n, int) and n != len(training):
        raise UserError(f"{source}: numTraining is {n} but imagesTr/ holds {len(training)} cases")
    return Dataset(
        str(meta.get("name", root.name)), root, "nnunet", channels, labels, training, None, test
    )


def _case_id(path: str) -> str:
    name = Path(path).name
    for end in (*NIFTI_ENDINGS, ".nrrd", ".mha", ".mhd", ".nii"):
        if name.endswith(end):
            name = name[: -len(end)]
            break
    m = _CHANNEL.match(name)
    return m["case"] if m else name


def _json_cases(items: list[dict[str, Any]], key: str, source: Path, labelled: bool) -> list[Case]:
    cases = []
    for k, it in enumerate(items):
        img = it.get("image")
        if img is None:
            raise UserError(f"{source}: {key}[{k}]: no image field")
        images = tuple(Path(p) for p in (img if isinstance(img, list) else [img]))
        label = it.get("label")
        if labelled and label is None:
            raise UserError(f"{source}: {key}[{k}] ({_case_id(str(images[0]))}): no label field")
        cid = str(it.get("case", it.get("id", _case_id(str(images[0])))))
        cases.append(Case(cid, images, Path(label) if label is not None else None))
    ids = [c.id for c in cases]
    dup = sorted({i for i in ids if ids.count(i) > 1})
    if dup:
        raise UserError(f"{source}: {key}: case id(s) listed twice: {', '.join(dup[:5])}")
    return sorted(cases, key=lambda c: c.id)


def _read_json_datalist(path: Path, meta: dict[str, Any], *, layout: Layout) -> Dataset:
    from monai.data import load_decathlon_datalist

    channels = _channels(meta, "modality", path) if "modality" in meta else ["image"]
    labels = _labels(meta, path, name_to_value=False)
    root = path.parent
    if not isinstance(meta.get("training"), list):
        raise UserError(f"{path}: training: expected a list of {{image, label}} items")

    def read(key: str, labelled: bool) -> list[Case]:
        try:
            items = load_decathlon_datalist(path, labelled, key, root)
        except (TypeError, AttributeError):
            raise UserError(f"{path}: {key}: expected a list of {{image, label}} items") from None
        return _json_cases(items, key, path, labelled)

    training = read("training", True)
    validation = read("validation", True) if meta.get("validation") else None
    test: list[Case] = []
    if meta.get("test"):
        raw = meta["test"]
        labelled = all(isinstance(t, dict) and "label" in t for t in raw)
        test = read("test", labelled)
    clash = {c.id for c in training} & {c.id for c in validation or []}
    if clash:
        raise UserError(f"{path}: case(s) in both training and validation: {sorted(clash)[:5]}")
    name = str(meta.get("name", root.name if layout == "msd" else path.stem))
    return Dataset(name, root, layout, channels, labels, training, validation, test)


def check_case(case: Case, num_channels: int) -> None:
    """Check that a case's files exist and that image and label headers agree.

    NIfTI headers are read with nibabel (cheap: no voxel data); other formats are only
    checked for existence here and fail at loading time, still naming the case.

    Raises:
        UserError: naming the case and the file (missing, unreadable, shape or affine
            mismatch).
    """
    import os
    import stat

    import numpy as np

    from ..io.untrusted import file_kind

    files = [*case.images, *([case.label] if case.label is not None else [])]
    for f in files:
        what = "label" if f == case.label else "image"
        try:
            mode = os.stat(f).st_mode
        except OSError:
            raise UserError(f"case {case.id}: missing {what} file {f}") from None
        if not stat.S_ISREG(mode):  # a FIFO would block, /dev/zero never end
            link = " (through a symlink)" if f.is_symlink() else ""
            raise UserError(
                f"case {case.id}: {what} {f} is {file_kind(mode)}{link}; a dataset holds "
                "regular files only"
            )
    headers = [(f, _header(case, f)) for f in files if f.name.endswith(NIFTI_ENDINGS)]
    if not headers:
        return
    for f, (shape, _) in headers:
        what = "label" if f == case.label else "image"
        chans = num_channels if len(case.images) == 1 else 1
        check_dims(case.id, f, shape, what=what, channels=chans)
    if len(case.images) == 1 and num_channels > 1 and headers[0][0] == case.images[0]:
        nch = headers[0][1][0][3] if len(headers[0][1][0]) > 3 else 1
        if nch != num_channels:
            raise UserError(
                f"case {case.id}: image {case.images[0].name} has {nch} channel(s); "
                f"the dataset names {num_channels}"
            )
    ref_file, (ref_shape, ref_aff) = headers[0]
    for f, (shape, aff) in headers[1:]:
        if tuple(shape[:3]) != tuple(ref_shape[:3]):
            raise UserError(
                f"case {case.id}: shape mismatch: {f.name} is {tuple(shape[:3])}, "
                f"{ref_file.name} is {tuple(ref_shape[:3])}"
            )
        tol = 1e-3 * max(1.0, float(np.abs(ref_aff[:3, :3]).max()))
        if not np.allclose(aff, ref_aff, atol=max(tol, 1e-3)):
            raise UserError(
                f"case {case.id}: affine mismatch between {f.name} and {ref_file.name} "
                f"(spacing/origin/direction differ)"
            )


def _header(case: Case, f: Path):
    import nibabel as nib

    try:
        img = nib.load(str(f))
        return tuple(int(s) for s in img.shape), img.affine
    except Exception as err:  # nibabel raises many types for corrupt files
        msg = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise UserError(f"case {case.id}: cannot read {f} ({msg[:120]})") from None
