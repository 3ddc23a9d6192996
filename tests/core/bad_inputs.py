"""A corpus of bad inputs, as careful and careless users type them.

Each :class:`Bad` is one command line run against a fresh workspace (``{ws}`` in the
arguments) that its ``setup`` fills: presets, datasets, checkpoints, command-line values,
files and folders. Every one must end with exit 2 (130 for interrupts), one line on stderr
holding every string of ``expect`` (the file, field or value, and what is allowed), no
traceback, no pre-existing file changed, within bounded memory and time
(``tests/core/test_bad_inputs.py`` checks all of that).

A bad preset is run twice: through ``presets validate`` and through a command that uses it,
so validation and runs refuse the same presets.
"""

from __future__ import annotations

import copy
import gzip
import io
import json
import os
import pickle
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

Setup = Callable[[Path], None]

TINY: dict[str, Any] = {
    "version": 1,
    "name": "tiny",
    "seed": 0,
    "volume": {"shape": [16, 16, 16]},
    "objects": {"per_volume": 2},
    "classes": {"include": ["sphere", "torus"]},
    "displacements": {"enabled": ["perlin_fine"]},
    "mappers": {"enabled": ["linear_slope_10.0"]},
    "dataset": {"num_samples": 3, "num_val": 0},
}
PRETRAIN = {
    "model": "unet_small",
    "model_kwargs": {"features_per_stage": [4, 8]},
    "patch_size": [16, 16, 16],
    "batch_size": 1,
    "iterations": 2,
    "warmup_steps": 0,
    "val_volumes": 0,
    "num_workers": 0,
}


@dataclass(frozen=True)
class Bad:
    """One bad input: ``args`` (``{ws}`` = the workspace), what the error line must hold."""

    id: str
    args: tuple[str, ...]
    expect: tuple[str, ...]
    setup: tuple[Setup, ...] = ()
    code: int = 2
    kind: str = "cli"  # cli (in-process), tmpfs (needs a small full disk), signal
    group: str = ""

    def argv(self, ws: Path) -> list[str]:
        return [a.replace("{ws}", str(ws)) for a in self.args]


# ---------------------------------------------------------------- workspace builders
def merged(base: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(base)
    for k, v in patch.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict) and v:
            out[k] = merged(out[k], v)
        else:
            out[k] = v
    return out


def write(name: str, data: bytes | str) -> Setup:
    def setup(ws: Path) -> None:
        p = ws / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data.encode() if isinstance(data, str) else data)

    return setup


def preset_file(patch: dict[str, Any] | None = None, name: str = "p.yaml") -> Setup:
    """The tiny preset with ``patch`` merged in (``None`` values replace whole fields)."""
    return write(name, yaml.safe_dump(merged(TINY, patch or {}), sort_keys=False))


def ok_preset(ws: Path) -> None:
    preset_file(name="ok.yaml")(ws)


def pretrain_preset(ws: Path) -> None:
    preset_file({"pretrain": PRETRAIN}, name="pt.yaml")(ws)


def nnunet_toy() -> Setup:
    """``Dataset990_Toy``: nnU-Net's plans (nnUNetPlannerResEncL) and dataset.json of a toy set."""

    def setup(ws: Path) -> None:
        shutil.copytree(Path(__file__).parent / "data" / "nnunet_toy", ws / "Dataset990_Toy")

    return setup


def folder(name: str, *files: str) -> Setup:
    def setup(ws: Path) -> None:
        (ws / name).mkdir(parents=True, exist_ok=True)
        for f in files:
            (ws / name / f).parent.mkdir(parents=True, exist_ok=True)
            (ws / name / f).write_text(f"user file {f}\n")

    return setup


def fifo(name: str) -> Setup:
    def setup(ws: Path) -> None:
        os.mkfifo(ws / name)

    return setup


def symlink(name: str, target: str) -> Setup:
    def setup(ws: Path) -> None:
        (ws / name).symlink_to(target.replace("{ws}", str(ws)))

    return setup


def sparse(name: str, size: int) -> Setup:
    def setup(ws: Path) -> None:
        with open(ws / name, "wb") as fh:
            fh.truncate(size)

    return setup


def run_folder(name: str = "run") -> Setup:
    """A pre-training run folder: last.pt (a valid tiny checkpoint), log.jsonl, preset."""

    def setup(ws: Path) -> None:
        d = ws / name
        d.mkdir(parents=True, exist_ok=True)
        (d / "last.pt").write_bytes(checkpoint_bytes())
        (d / "log.jsonl").write_text('{"step": 1, "loss": 1.0}\n')
        (d / "preset.yaml").write_text(yaml.safe_dump(merged(TINY, {"pretrain": PRETRAIN})))
        (d / "preview.png").write_bytes(b"\x89PNG\r\n\x1a\n")

    return setup


# ---------------------------------------------------------------- checkpoints
_CKPT: dict[str, bytes] = {}


def checkpoint_state(**changes: Any) -> dict[str, Any]:
    """A valid tiny pre-training checkpoint (unet_small, 4-8 features), with changes."""
    import torch

    from fdif_core.networks import build_network
    from fdif_core.presets.preset import parse_preset

    preset = parse_preset(merged(TINY, {"pretrain": PRETRAIN}))
    torch.manual_seed(0)
    net = build_network("unet_small", 3, (16, 16, 16), {"features_per_stage": [4, 8]})
    state: dict[str, Any] = {
        "model": net.state_dict(),
        "optimizer": {},
        "scheduler": {},
        "step": 2,
        "preset_hash": preset.hash(),
        "preset": preset.to_yaml(),
        "model_name": "unet_small",
        "task": "segmentation",
        "label_names": ["background", "sphere", "torus"],
    }
    state.update(changes)
    return state


def torch_bytes(obj: Any) -> bytes:
    import torch

    buf = io.BytesIO()
    torch.save(obj, buf)
    return buf.getvalue()


def checkpoint_bytes() -> bytes:
    if "ok" not in _CKPT:
        _CKPT["ok"] = torch_bytes(checkpoint_state())
    return _CKPT["ok"]


def ckpt(name: str, make: Callable[[], bytes]) -> Setup:
    def setup(ws: Path) -> None:
        (ws / name).parent.mkdir(parents=True, exist_ok=True)
        (ws / name).write_bytes(make())

    return setup


def ok_ckpt(name: str = "c.pt") -> Setup:
    return ckpt(name, checkpoint_bytes)


def nan_weights() -> bytes:
    import torch

    state = checkpoint_state()
    key = next(k for k, v in state["model"].items() if v.is_floating_point())
    state["model"] = dict(state["model"])
    state["model"][key] = torch.full_like(state["model"][key], float("nan"))
    return torch_bytes(state)


class _Payload:
    def __reduce__(self):  # would run a command if unpickled without weights_only
        return (os.system, ("touch /tmp/fdif_pwned",))


# ---------------------------------------------------------------- datasets
def toy(name: str = "ds", layout: str = "nnunet", **kw: Any) -> Setup:
    def setup(ws: Path) -> None:
        from fdif_core.real.toy import write_toy_dataset

        write_toy_dataset(ws / name, layout, **kw)  # type: ignore[arg-type]

    return setup


def edit_nifti(rel: str, change: Callable[[Any], Any], dtype: str | None = None) -> Setup:
    """Rewrite a NIfTI file of the workspace with ``change(array)`` (same affine)."""

    def setup(ws: Path) -> None:
        import nibabel as nib
        import numpy as np

        img = nib.load(str(ws / rel))
        arr = change(np.asanyarray(img.dataobj).copy())
        arr = arr.astype(dtype or arr.dtype)
        out = nib.Nifti1Image(arr, img.affine)
        out.header.set_data_dtype(arr.dtype)
        nib.save(out, str(ws / rel))

    return setup


def edit_json(rel: str, change: Callable[[Any], Any]) -> Setup:
    def setup(ws: Path) -> None:
        p = ws / rel
        p.write_text(json.dumps(change(json.loads(p.read_text()))))

    return setup


def remove(rel: str) -> Setup:
    def setup(ws: Path) -> None:
        (ws / rel).unlink()

    return setup


def _set(d: dict, key: str, value: Any) -> dict:
    d = dict(d)
    if value is _DROP:
        d.pop(key, None)
    else:
        d[key] = value
    return d


_DROP = object()
FINETUNE = (
    "finetune", "--dataset", "{ws}/ds", "--scratch", "--out", "{ws}/run", "--max-steps", "1",
    "--no-progress", "--preset", "quick",
)  # fmt: skip
IMG0 = "ds/imagesTr/toy_000_0000.nii.gz"
LAB0 = "ds/labelsTr/toy_000.nii.gz"


# ---------------------------------------------------------------- corpus parts
def _preset_files() -> list[Bad]:
    big = b"# padding\n" * 120_000
    nested_flow = "volume: " + "[" * 200 + "]" * 200 + "\n"
    nested_block = "".join("  " * i + f"k{i}:\n" for i in range(60)) + "  " * 60 + "x: 1\n"
    laughs = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{c}: &{c} [*{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}]\n"
        for p, c in zip("abcdefgh", "bcdefghi", strict=True)
    )
    ok_text = yaml.safe_dump(TINY)
    files: list[tuple[str, tuple[Setup, ...], tuple[str, ...], str]] = [
        ("binary", (write("p.yaml", bytes(range(256)) * 4),), ("binary data", "NUL"), "p.yaml"),
        ("nul-inside", (write("p.yaml", ok_text[:20] + "\0" + ok_text[20:]),), ("NUL",), "p.yaml"),
        ("utf16-le", (write("p.yaml", ok_text.encode("utf-16")),), ("UTF-16", "UTF-8"), "p.yaml"),
        ("utf16-be", (write("p.yaml", b"\xfe\xff" + ok_text.encode("utf-16-be")),), ("UTF-16",),
         "p.yaml"),
        ("utf32", (write("p.yaml", ok_text.encode("utf-32")),), ("UTF-32",), "p.yaml"),
        ("latin1", (write("p.yaml", "name: caf\xe9\n".encode("latin-1")),), ("not UTF-8", "0xe9"),
         "p.yaml"),
        ("dev-zero", (), ("/dev/zero", "character device"), "/dev/zero"),
        ("dev-null", (), ("/dev/null", "character device"), "/dev/null"),
        ("dev-urandom", (), ("/dev/urandom", "character device"), "/dev/urandom"),
        ("fifo", (fifo("p.yaml"),), ("FIFO",), "p.yaml"),
        ("folder", (folder("p.yaml"),), ("a folder",), "p.yaml"),
        ("link-to-dev-zero", (symlink("p.yaml", "/dev/zero"),), ("character device",), "p.yaml"),
        ("broken-link", (symlink("p.yaml", "{ws}/nowhere.yaml"),), ("cannot read",), "p.yaml"),
        ("huge", (write("p.yaml", big),), ("bytes", "at most 1,048,576"), "p.yaml"),
        ("sparse-huge", (sparse("p.yaml", 1 << 34),), ("at most 1,048,576",), "p.yaml"),
        ("nested-flow", (write("p.yaml", nested_flow),), ("nested deeper than 32",), "p.yaml"),
        ("nested-block", (write("p.yaml", nested_block),), ("nested deeper than 32",), "p.yaml"),
        ("billion-laughs", (write("p.yaml", laughs),), ("expands to", "at most 100,000"),
         "p.yaml"),
        ("duplicate-top-key", (write("p.yaml", ok_text + "seed: 5\n"),), ("duplicate key 'seed'",),
         "p.yaml"),
        ("duplicate-nested-key",
         (write("p.yaml", "volume:\n  shape: [16, 16, 16]\n  shape: [8, 8, 8]\n"),),
         ("duplicate key 'shape'", "line 3"), "p.yaml"),
        ("bad-yaml-bracket", (write("p.yaml", "volume: {shape: [16, 16\n"),), ("not valid YAML",),
         "p.yaml"),
        ("bad-yaml-tab", (write("p.yaml", "volume:\n\tshape: [1, 2, 3]\n"),), ("not valid YAML",),
         "p.yaml"),
        ("python-tag", (write("p.yaml", "name: !!python/object/apply:os.system ['true']\n"),),
         ("not valid YAML", "python/object/apply"), "p.yaml"),
        ("unhashable-key", (write("p.yaml", "? [a, b]\n: 1\n"),), ("not valid YAML",), "p.yaml"),
        ("two-documents", (write("p.yaml", ok_text + "---\n" + ok_text),),
         ("not valid YAML", "single document"), "p.yaml"),
        ("top-level-list", (write("p.yaml", "- 1\n- 2\n"),), ("mapping", "got list"), "p.yaml"),
        ("top-level-scalar", (write("p.yaml", "quickstart\n"),), ("mapping", "got str"), "p.yaml"),
        ("empty-file", (write("p.yaml", ""),), ("mapping", "empty file"), "p.yaml"),
        ("only-comments", (write("p.yaml", "# nothing\n"),), ("empty file",), "p.yaml"),
        ("gzip-file", (write("p.yaml", gzip.compress(ok_text.encode())),), ("p.yaml",), "p.yaml"),
        ("missing-file", (), ("nowhere.yaml", "no such preset", "quickstart"), "nowhere.yaml"),
        ("unknown-shipped-name", (), ("quikstart", "no such preset", "shipped presets"),
         "quikstart"),
        ("empty-name", (), ("empty",), ""),
        ("timestamp-seed", (write("p.yaml", "seed: 2001-12-14t21:59:43.10-05:00\n"),), ("seed", "must be a number", "datetime"), "p.yaml"),
        ("date-name", (write("p.yaml", "name: 2024-01-01\n"),), ("name", "string"), "p.yaml"),
    ]  # fmt: skip
    out = []
    for name, setup, expect, target in files:
        arg = (
            f"{{ws}}/{target}"
            if target and not target.startswith("/") and "." in target
            else target
        )
        out.append(Bad(f"preset-file/{name}/validate", ("presets", "validate", arg), expect, setup))
        out.append(
            Bad(
                f"preset-file/{name}/sample",
                ("sample", "--preset", arg, "--out", "{ws}/out"),
                expect,
                setup,
            )
        )
    return out


# (patch, expected strings, command that must refuse it besides validate)
FIELDS: list[tuple[str, dict[str, Any], tuple[str, ...], str]] = [
    ("shape-zero", {"volume": {"shape": [0, 16, 16]}}, ("volume.shape.0", "greater than 0", "got 0"), "sample"),
    ("shape-negative", {"volume": {"shape": [16, -4, 16]}}, ("volume.shape.1", "got -4"), "sample"),
    ("shape-two-values", {"volume": {"shape": [16, 16]}}, ("volume.shape", "needs 3"), "sample"),
    ("shape-four-values", {"volume": {"shape": [16, 16, 16, 16]}}, ("volume.shape", "got a list of 4"), "sample"),
    ("shape-bool", {"volume": {"shape": [True, 16, 16]}}, ("volume.shape", "item 0", "true (a boolean)"), "sample"),
    ("shape-text", {"volume": {"shape": ["16", 16, 16]}}, ("volume.shape", "'16' (text)"), "sample"),
    ("shape-fraction", {"volume": {"shape": [16.5, 16, 16]}}, ("volume.shape.0", "16.5"), "sample"),
    ("shape-scalar", {"volume": {"shape": 16}}, ("volume.shape", "got 16"), "sample"),
    ("shape-null", {"volume": {"shape": None}}, ("volume.shape", "got null"), "sample"),
    ("shape-huge", {"volume": {"shape": [4096, 4096, 4096]}}, ("volume.shape", "68,719,476,736 voxels", "limits.max_voxels"), "sample"),
    ("shape-absurd", {"volume": {"shape": [10**12, 10**12, 10**12]}}, ("volume.shape", "limits.max_voxels"), "sample"),
    ("spacing-zero", {"volume": {"spacing": [0, 1, 1]}}, ("volume.spacing.0", "got 0"), "sample"),
    ("spacing-negative", {"volume": {"spacing": [1, -1, 1]}}, ("volume.spacing.1", "got -1"), "sample"),
    ("spacing-inf", {"volume": {"spacing": [float("inf"), 1, 1]}}, ("volume.spacing.0", "finite", "inf"), "sample"),
    ("spacing-nan", {"volume": {"spacing": [1, float("nan"), 1]}}, ("volume.spacing.1", "finite", "nan"), "sample"),
    ("volume-text", {"volume": "big"}, ("volume", "'big'"), "sample"),
    ("objects-zero", {"objects": {"per_volume": 0}}, ("objects.per_volume", "got 0"), "sample"),
    ("objects-negative", {"objects": {"per_volume": -5}}, ("objects.per_volume", "got -5"), "sample"),
    ("objects-million", {"objects": {"per_volume": 1_000_000}}, ("objects.per_volume 1,000,000", "at most 1,000", "limits.max_objects"), "sample"),
    ("objects-bool", {"objects": {"per_volume": True}}, ("objects.per_volume", "true (a boolean)"), "sample"),
    ("objects-text", {"objects": {"per_volume": "many"}}, ("objects.per_volume", "'many' (text)"), "sample"),
    ("objects-fraction", {"objects": {"per_volume": 2.5}}, ("objects.per_volume", "2.5"), "sample"),
    ("seed-negative", {"seed": -1}, ("seed", "greater than or equal to 0", "got -1"), "sample"),
    ("seed-too-big", {"seed": 2**32}, ("seed", "4294967295", "got 4294967296"), "sample"),
    ("seed-huge-float", {"seed": 1e100}, ("seed", "1e+100"), "sample"),
    ("seed-bool", {"seed": True}, ("seed", "true (a boolean)"), "sample"),
    ("seed-text", {"seed": "lucky"}, ("seed", "'lucky' (text)"), "sample"),
    ("version-2", {"version": 2}, ("version", "got 2"), "sample"),
    ("version-bool", {"version": True}, ("version", "true (a boolean)", "allowed: 1"), "sample"),
    ("unknown-top-field", {"volumes": {"shape": [8, 8, 8]}}, ("volumes", "unknown field"), "sample"),
    ("unknown-nested-field", {"volume": {"size": 8}}, ("volume.size", "unknown field"), "sample"),
    ("classes-unknown", {"classes": {"include": ["sphre"]}}, ("classes.include", "sphre", "Did you mean 'sphere'"), "sample"),
    ("classes-empty", {"classes": {"include": []}}, ("classes", "no class left"), "sample"),
    ("classes-all-excluded", {"classes": {"exclude": ["sphere", "torus"]}}, ("classes", "no class left"), "sample"),
    ("classes-not-list", {"classes": {"include": "sphere"}}, ("classes.include", "valid list", "'sphere'"), "sample"),
    ("range-reversed", {"classes": {"ranges": {"sphere": {"radius": [0.3, 0.1]}}}}, ("classes.ranges.sphere.radius", "above high"), "sample"),
    ("range-inf", {"classes": {"ranges": {"sphere": {"radius": [0.1, float("inf")]}}}}, ("classes.ranges.sphere.radius.1", "finite", "inf"), "sample"),
    ("range-nan", {"classes": {"ranges": {"*": {"radius": [float("nan"), 0.2]}}}}, ("classes.ranges.*.radius.0", "finite", "nan"), "sample"),
    ("range-neg-inf", {"classes": {"ranges": {"sphere": {"radius": [float("-inf"), 0.2]}}}}, ("classes.ranges.sphere.radius.0", "-inf"), "sample"),
    ("range-unknown-param", {"classes": {"ranges": {"sphere": {"radiu": [0.1, 0.2]}}}}, ("classes.ranges", "radiu", "allowed: radius"), "sample"),
    ("range-unknown-class", {"classes": {"ranges": {"sphre": {"radius": [0.1, 0.2]}}}}, ("classes.ranges", "sphre"), "sample"),
    ("range-bool", {"classes": {"ranges": {"sphere": {"radius": [True, 0.2]}}}}, ("classes.ranges", "true (a boolean)"), "sample"),
    ("range-one-value", {"classes": {"ranges": {"sphere": {"radius": [0.2]}}}}, ("classes.ranges.sphere.radius", "needs 3"), "sample"),
    ("pose-reversed", {"pose": {"translation": [0.3, -0.3]}}, ("pose.translation", "above high"), "sample"),
    ("pose-inf", {"pose": {"rotation": [float("-inf"), 0]}}, ("pose.rotation.0", "finite"), "sample"),
    ("pose-nan", {"pose": {"shear": [0, float("nan")]}}, ("pose.shear.1", "finite", "nan"), "sample"),
    ("pose-text", {"pose": {"translation": "small"}}, ("pose.translation", "'small'"), "sample"),
    ("displacement-unknown", {"displacements": {"enabled": ["perlin_fin"]}}, ("displacements.enabled", "perlin_fin"), "sample"),
    ("displacement-twice", {"displacements": {"enabled": ["perlin_fine", "perlin_fine"]}}, ("displacements.enabled", "listed twice"), "sample"),
    ("displacement-none-left", {"displacements": {"enabled": [], "include_none": False}}, ("displacements", "no displacement"), "sample"),
    ("displacement-space", {"displacements": {"space": "galaxy"}}, ("displacements.space", "'galaxy'"), "sample"),
    ("displacement-bool-as-number", {"displacements": {"include_none": 1}}, ("displacements.include_none", "true or false", "got 1"), "sample"),
    ("displacement-family", {"displacements": {"enabled": [{"name": "mine", "family": "nope", "params": {}}]}}, ("displacements.enabled", "nope"), "sample"),
    ("displacement-param-inf", {"displacements": {"enabled": [{"name": "mine", "family": "perlin", "params": {"amplitude": float("inf")}}]}}, ("displacements.enabled.0.params.amplitude", "finite"), "sample"),
    ("mappers-empty", {"mappers": {"enabled": []}}, ("mappers.enabled", "at least 1"), "sample"),
    ("mapper-unknown", {"mappers": {"enabled": ["linear"]}}, ("mappers.enabled", "'linear'"), "sample"),
    ("mapper-param-nan", {"mappers": {"enabled": [{"name": "m", "family": "linear", "params": {"slope": float("nan")}}]}}, ("mappers.enabled.0.params.slope", "finite"), "sample"),
    ("mapper-param-bool", {"mappers": {"enabled": [{"name": "m", "family": "linear", "params": {"slope": True}}]}}, ("mappers.enabled.0.params", "slope", "true (a boolean)"), "sample"),
    ("range-size-negative", {"classes": {"ranges": {"*": {"radius": [-0.5, -0.1]}}}}, ("classes.ranges", "radius [-0.5, -0.1]", "within [0, 100]"), "sample"),
    ("range-huge", {"classes": {"ranges": {"sphere": {"radius": [0.1, 1e30]}}}}, ("classes.ranges", "radius", "within [0, 100]"), "sample"),
    ("pose-translation-huge", {"pose": {"translation": [-1e30, 1e30]}}, ("pose.translation", "within [-10, 10]", "1e+30"), "sample"),
    ("pose-shear-huge", {"pose": {"shear": [1e300, 1e300]}}, ("pose.shear", "within [-10, 10]"), "sample"),
    ("spacing-huge", {"volume": {"spacing": [1e300, 1, 1]}}, ("volume.spacing", "1e+06] mm", "1e+300"), "sample"),
    ("spacing-tiny", {"volume": {"spacing": [1e-30, 1, 1]}}, ("volume.spacing", "[1e-06"), "sample"),
    ("displacement-amplitude-huge", {"displacements": {"enabled": [{"name": "d", "family": "sine_lattice", "params": {"amplitude": 1e30}}]}}, ("displacements.enabled", "d: amplitude", "1e+30"), "sample"),
    ("displacement-axis-3", {"displacements": {"enabled": [{"name": "d", "family": "axis_stripes", "params": {"axis": 3}}]}}, ("d: axis", "whole number in [0, 2]", "got 3"), "sample"),
    ("displacement-octaves-fraction", {"displacements": {"enabled": [{"name": "d", "family": "gradient_noise", "params": {"octaves": 2.5}}]}}, ("d: octaves", "whole number", "2.5"), "sample"),
    ("displacement-octaves-million", {"displacements": {"enabled": [{"name": "d", "family": "gradient_noise", "params": {"octaves": 1e6}}]}}, ("d: octaves", "[1, 12]"), "sample"),
    ("mapper-modulus-zero", {"mappers": {"enabled": [{"name": "m", "family": "modular", "params": {"modulus": 0}}]}}, ("m: modulus", "[2, 1000]", "got 0"), "sample"),
    ("mapper-modulus-one", {"mappers": {"enabled": [{"name": "m", "family": "modular", "params": {"modulus": 1}}]}}, ("m: modulus", "got 1"), "sample"),
    ("mapper-base-negative", {"mappers": {"enabled": [{"name": "m", "family": "exponential", "params": {"base": -2}}]}}, ("m: base", "(0, 1e+06]", "got -2"), "sample"),
    ("mapper-peak-huge", {"mappers": {"enabled": [{"name": "m", "family": "linear", "params": {"peak": 1e300}}]}}, ("m: peak", "[1, 255]"), "sample"),
    ("mapper-peak-tiny", {"mappers": {"enabled": [{"name": "m", "family": "inverse_cube", "params": {"peak": 0.01}}]}}, ("m: peak", "[1, 255]", "0.01"), "sample"),
    ("mapper-width-zero", {"mappers": {"enabled": [{"name": "m", "family": "floor", "params": {"width": 0}}]}}, ("m: width", "(0, 1e+06]"), "sample"),
    ("mapper-wavelength-zero", {"mappers": {"enabled": [{"name": "m", "family": "sinusoidal", "params": {"wavelength": 0}}]}}, ("m: wavelength", "got 0"), "sample"),
    ("classification-scale-huge", {"classification": {"size_scale": 1e30}}, ("classification.size_scale", "less than or equal to 10"), "sample"),
    ("clip-over-255", {"intensity": {"clip": [0, 1000]}}, ("intensity.clip", "[0, 255]"), "sample"),
    ("clip-negative", {"intensity": {"clip": [-5, 100]}}, ("intensity.clip", "[0, 255]"), "sample"),
    ("clip-reversed", {"intensity": {"clip": [100, 50]}}, ("intensity.clip", "above high"), "sample"),
    ("labels-mode", {"labels": {"mode": "instances"}}, ("labels.mode", "'instances'"), "sample"),
    ("labels-combine", {"labels": {"mode": "classes", "combine": ["colour"]}}, ("labels.combine.0", "'colour'"), "sample"),
    ("samples-zero", {"dataset": {"num_samples": 0}}, ("dataset.num_samples", "got 0"), "sample"),
    ("samples-ten-million", {"dataset": {"num_samples": 10_000_000}}, ("10,000,000 cases", "limits.max_cases"), "sample"),
    ("samples-bool", {"dataset": {"num_samples": True}}, ("dataset.num_samples", "true (a boolean)"), "sample"),
    ("val-negative", {"dataset": {"num_val": -1}}, ("dataset.num_val", "got -1"), "sample"),
    ("limits-voxels-zero", {"limits": {"max_voxels": 0}}, ("limits.max_voxels", "got 0"), "sample"),
    ("limits-memory-inf", {"limits": {"max_memory_gib": float("inf")}}, ("limits.max_memory_gib", "finite"), "sample"),
    ("limits-memory-tiny", {"limits": {"max_memory_gib": 0.01}}, ("needs about", "limit is 0.01 GiB", "limits.max_memory_gib"), "sample"),
    ("memory-huge-volume", {"volume": {"shape": [512, 512, 512]}, "objects": {"per_volume": 1000}}, ("needs about", "GiB", "--max-memory"), "sample"),
    ("pretrain-model", {"pretrain": {**PRETRAIN, "model": "unet_big"}}, ("pretrain.model", "unet_big"), "pretrain"),
    ("pretrain-patch-odd", {"pretrain": {**PRETRAIN, "patch_size": [15, 16, 16]}}, ("patch_size", "multiple of 2", "[15, 16, 16]"), "pretrain"),
    ("pretrain-patch-zero", {"pretrain": {**PRETRAIN, "patch_size": [0, 16, 16]}}, ("pretrain.patch_size.0", "got 0"), "pretrain"),
    ("pretrain-patch-huge", {"pretrain": {**PRETRAIN, "patch_size": [2048, 2048, 2048]}}, ("pretrain.patch_size", "limits.max_voxels"), "pretrain"),
    ("pretrain-batch-zero", {"pretrain": {**PRETRAIN, "batch_size": 0}}, ("pretrain.batch_size", "got 0"), "pretrain"),
    ("pretrain-batch-bool", {"pretrain": {**PRETRAIN, "batch_size": True}}, ("pretrain.batch_size", "true (a boolean)"), "pretrain"),
    ("pretrain-lr-zero", {"pretrain": {**PRETRAIN, "lr": 0}}, ("pretrain.lr", "got 0"), "pretrain"),
    ("pretrain-lr-negative", {"pretrain": {**PRETRAIN, "lr": -0.001}}, ("pretrain.lr", "-0.001"), "pretrain"),
    ("pretrain-lr-inf", {"pretrain": {**PRETRAIN, "lr": float("inf")}}, ("pretrain.lr", "finite"), "pretrain"),
    ("pretrain-lr-nan", {"pretrain": {**PRETRAIN, "lr": float("nan")}}, ("pretrain.lr", "finite"), "pretrain"),
    ("pretrain-lr-text", {"pretrain": {**PRETRAIN, "lr": "1e-3x"}}, ("pretrain.lr", "'1e-3x' (text)"), "pretrain"),
    ("pretrain-iterations-zero", {"pretrain": {**PRETRAIN, "iterations": 0}}, ("pretrain.iterations", "got 0"), "pretrain"),
    ("pretrain-warmup", {"pretrain": {**PRETRAIN, "warmup_steps": 5}}, ("warmup_steps (5)", "below iterations (2)"), "pretrain"),
    ("pretrain-width-negative", {"pretrain": {**PRETRAIN, "model_kwargs": {"features_per_stage": [-4, 8]}}}, ("pretrain.model_kwargs: features_per_stage", "item 0", "1..2048", "got -4"), "pretrain"),
    ("pretrain-width-zero", {"pretrain": {**PRETRAIN, "model_kwargs": {"features_per_stage": [4, 0]}}}, ("features_per_stage", "item 1", "got 0"), "pretrain"),
    ("pretrain-width-huge", {"pretrain": {**PRETRAIN, "model_kwargs": {"features_per_stage": [4, 10**6]}}}, ("features_per_stage", "1..2048", "1000000"), "pretrain"),
    ("pretrain-width-bool", {"pretrain": {**PRETRAIN, "model_kwargs": {"features_per_stage": [True, 8]}}}, ("features_per_stage", "got true"), "pretrain"),
    ("pretrain-width-scalar", {"pretrain": {**PRETRAIN, "model_kwargs": {"features_per_stage": 8}}}, ("features_per_stage", "list of integers", "got 8"), "pretrain"),
    ("pretrain-one-stage", {"pretrain": {**PRETRAIN, "model_kwargs": {"features_per_stage": [8]}}}, ("features_per_stage", "1 stage(s)", "2..8"), "pretrain"),
    ("pretrain-kwarg-unknown", {"pretrain": {**PRETRAIN, "model_kwargs": {"depth": 3}}}, ("model_kwargs", "'depth'", "allowed: features_per_stage"), "pretrain"),
    ("pretrain-swin-feature", {"pretrain": {**PRETRAIN, "model": "swinunetr", "patch_size": [64, 64, 64], "model_kwargs": {"feature_size": 50}}}, ("feature_size", "multiple of 12", "50"), "pretrain"),
    ("pretrain-swin-droppath-nan", {"pretrain": {**PRETRAIN, "model": "swinunetr", "patch_size": [64, 64, 64], "model_kwargs": {"dropout_path_rate": float("nan")}}}, ("dropout_path_rate", "[0, 1)", "nan"), "pretrain"),
    ("pretrain-resenc-stages", {"pretrain": {**PRETRAIN, "model": "resenc_l", "patch_size": [32, 32, 32], "model_kwargs": {"n_stages": 3}}}, ("features_per_stage", "needs 3 entries", "got 5"), "pretrain"),
    ("pretrain-workers-negative", {"pretrain": {**PRETRAIN, "num_workers": -1}}, ("pretrain.num_workers", "got -1"), "pretrain"),
    ("pretrain-workers-thousand", {"pretrain": {**PRETRAIN, "num_workers": 1000}}, ("pretrain.num_workers 1000", "allowed 0.."), "pretrain"),
    ("pretrain-loss", {"pretrain": {**PRETRAIN, "loss": "l2"}}, ("pretrain.loss", "'l2'"), "pretrain"),
    ("pretrain-amp", {"pretrain": {**PRETRAIN, "amp": "fp8"}}, ("pretrain.amp", "'fp8'"), "pretrain"),
    ("pretrain-amp-bool", {"pretrain": {**PRETRAIN, "amp": False}}, ("pretrain.amp", "false"), "pretrain"),
    ("pretrain-clip-negative", {"pretrain": {**PRETRAIN, "grad_clip": -1}}, ("pretrain.grad_clip", "got -1"), "pretrain"),
    ("pretrain-classification-loss", {"pretrain": {**PRETRAIN, "task": "classification"}}, ("classification", "loss: ce"), "pretrain"),
    ("pretrain-flip-prob", {"pretrain": {**PRETRAIN, "augment": {"flip_prob": 2}}}, ("pretrain.augment.flip_prob", "got 2"), "pretrain"),
    ("pretrain-memory", {"pretrain": {**PRETRAIN, "val_volumes": 90_000}, "volume": {"shape": [256, 256, 256]}}, ("pretrain: needs about", "GiB"), "pretrain"),
    ("finetune-patch-odd", {"finetune": {"patch_size": [30, 32, 32]}}, ("finetune.patch_size", "multiple of 8", "[30, 32, 32]"), "sample"),
    ("finetune-width-negative", {"finetune": {"model_kwargs": {"features_per_stage": [-16, 32, 64, 128]}}}, ("finetune.model_kwargs: features_per_stage", "got -16"), "sample"),
    ("finetune-lr-negative", {"finetune": {"lr": -1}}, ("finetune.lr", "got -1"), "sample"),
    ("finetune-spacing-zero", {"finetune": {"preprocess": {"spacing": [0, 1, 1]}}}, ("finetune.preprocess.spacing.0", "got 0"), "sample"),
    ("finetune-window-reversed", {"finetune": {"preprocess": {"ct_window": [250, -175]}}}, ("ct_window", "below high"), "sample"),
    ("finetune-window-nan", {"finetune": {"preprocess": {"ct_window": [float("nan"), 250]}}}, ("finetune.preprocess.ct_window.0", "finite"), "sample"),
    ("finetune-normalization", {"finetune": {"preprocess": {"normalization": "minmax"}}}, ("finetune.preprocess.normalization", "'minmax'"), "sample"),
    ("finetune-no-crops", {"finetune": {"augment": {"pos": 0, "neg": 0}}}, ("finetune.augment", "pos + neg"), "sample"),
    ("finetune-overlap-one", {"finetune": {"sw_overlap": 1.0}}, ("finetune.sw_overlap", "less than 1", "got 1.0"), "sample"),
    ("finetune-workers-thousand", {"finetune": {"num_workers": 1000}}, ("finetune.num_workers 1000", "allowed 0.."), "finetune"),
    ("finetune-patch-huge", {"finetune": {"patch_size": [4096, 4096, 4096]}}, ("finetune.patch_size", "limits.max_voxels"), "sample"),
]  # fmt: skip


def _preset_fields() -> list[Bad]:
    out = []
    for name, patch, expect, command in FIELDS:
        setup = (preset_file(patch),)
        out.append(
            Bad(f"preset/{name}/validate", ("presets", "validate", "{ws}/p.yaml"), expect, setup)
        )
        if command == "sample":
            args = ("sample", "--preset", "{ws}/p.yaml", "--out", "{ws}/out")
        elif command == "pretrain":
            args = ("pretrain", "--preset", "{ws}/p.yaml", "--out", "{ws}/run", "--no-progress")
        elif command == "finetune":
            args = ("finetune", "--dataset", "{ws}/ds", "--scratch", "--out", "{ws}/run",
                    "--preset", "{ws}/p.yaml")  # fmt: skip
        else:
            continue
        out.append(Bad(f"preset/{name}/{command}", args, expect, setup))
    return out


P = (ok_preset,)
S = ("sample", "--preset", "{ws}/ok.yaml", "--out", "{ws}/out")
G = ("generate", "--preset", "{ws}/ok.yaml", "--out", "{ws}/ds", "--quiet")
# (name, arguments, expected in the line, setup)
COMMAND_LINE: list[tuple[str, tuple[str, ...], tuple[str, ...], tuple[Setup, ...]]] = [
    ("no-command", (), ("COMMAND",), ()),
    ("unknown-command", ("frobnicate",), ("invalid choice", "'frobnicate'"), ()),
    ("unknown-option", (*S, "--frobnicate"), ("unrecognized arguments", "--frobnicate"), P),
    ("sample/seed-negative", (*S, "--seed", "-1"), ("--seed", "-1", "allowed 0.."), P),
    ("sample/seed-text", (*S, "--seed", "abc"), ("--seed", "'abc' is not an integer"), P),
    ("sample/seed-float", (*S, "--seed", "1.5"), ("--seed", "'1.5'"), P),
    ("sample/seed-huge", (*S, "--seed", str(2**64)), ("--seed", "allowed 0..9223372036854775807"), P),
    ("sample/seed-past-end", (*S, "--seed", str(2**63 - 1), "--count", "2"), ("--seed", "--count", "past"), P),
    ("sample/count-zero", (*S, "--count", "0"), ("--count", "0: allowed 1..10000"), P),
    ("sample/count-negative", (*S, "--count", "-3"), ("--count", "allowed 1..10000"), P),
    ("sample/count-huge", (*S, "--count", "1000000"), ("--count", "allowed 1..10000"), P),
    ("sample/shape-zero", (*S, "--shape", "0", "16", "16"), ("--shape", "0: allowed 1..4096"), P),
    ("sample/shape-negative", (*S, "--shape", "16", "-16", "16"), ("--shape", "allowed 1..4096"), P),
    ("sample/shape-two", (*S, "--shape", "16", "16"), ("--shape", "expected 3 arguments"), P),
    ("sample/shape-edge", (*S, "--shape", "5000", "16", "16"), ("--shape", "5000"), P),
    ("sample/shape-voxels", (*S, "--shape", "1024", "1024", "1024"), ("--shape 1024 1024 1024", "1,073,741,824 voxels", "limits.max_voxels"), P),
    ("sample/shape-text", (*S, "--shape", "a", "b", "c"), ("--shape", "'a' is not an integer"), P),
    ("sample/out-empty", ("sample", "--preset", "{ws}/ok.yaml", "--out", ""), ("--out", "empty path"), P),
    ("sample/out-blank", ("sample", "--preset", "{ws}/ok.yaml", "--out", "  "), ("--out", "empty path"), P),
    ("sample/out-missing", ("sample", "--preset", "{ws}/ok.yaml"), ("--out",), P),
    ("sample/out-is-file", (*S[:4], "{ws}/notes.txt"), ("--out", "notes.txt", "not a folder"), (*P, write("notes.txt", "mine"))),
    ("sample/out-not-empty", S, ("--out", "not empty", "mine.txt", "--overwrite"), (*P, folder("out", "mine.txt"))),
    ("sample/out-earlier-sample", S, ("--out", "not empty", "image.nii.gz", "--overwrite"), (*P, folder("out", "image.nii.gz", "label.nii.gz"))),
    ("sample/out-run-folder", (*S[:4], "{ws}/run", "--overwrite"), ("--out", "training run's folder", "preview.png"), (*P, run_folder())),
    ("sample/out-under-file", (*S[:4], "{ws}/notes.txt/sub"), ("notes.txt",), (*P, write("notes.txt", "mine"))),
    ("sample/device-unknown", (*S, "--device", "gpu"), ("--device", "'gpu'", "cpu or cuda"), P),
    ("sample/device-cuda", (*S, "--device", "cuda"), ("--device cuda", "no CUDA device"), P),
    ("sample/device-cuda-99", (*S, "--device", "cuda:99"), ("--device cuda",), P),
    ("sample/device-meta", (*S, "--device", "meta"), ("--device meta", "allowed: cpu, cuda"), P),
    ("sample/max-memory-zero", (*S, "--max-memory", "0"), ("--max-memory", "0: allowed a finite number > 0"), P),
    ("sample/max-memory-negative", (*S, "--max-memory", "-2"), ("--max-memory", "-2"), P),
    ("sample/max-memory-nan", (*S, "--max-memory", "nan"), ("--max-memory", "nan", "finite"), P),
    ("sample/max-memory-inf", (*S, "--max-memory", "inf"), ("--max-memory", "inf", "finite"), P),
    ("sample/max-memory-text", (*S, "--max-memory", "lots"), ("--max-memory", "'lots' is not a number"), P),
    ("sample/max-memory-tiny", (*S, "--max-memory", "0.001"), ("sample: needs about", "limit is 0.001 GiB (--max-memory)"), P),
    ("sample/preset-empty", ("sample", "--preset", "", "--out", "{ws}/out"), ("--preset", "empty path"), ()),
    ("generate/workers-zero", (*G, "--workers", "0"), ("--workers", "0: allowed 1.."), P),
    ("generate/workers-negative", (*G, "--workers", "-4"), ("--workers", "allowed 1.."), P),
    ("generate/workers-thousand", (*G, "--workers", "1000"), ("--workers", "1000: allowed 1.."), P),
    ("generate/workers-text", (*G, "--workers", "all"), ("--workers", "'all' is not an integer"), P),
    ("generate/num-samples-zero", (*G, "--num-samples", "0"), ("--num-samples", "allowed 1 or more"), P),
    ("generate/num-samples-ten-million", (*G, "--num-samples", "10000000"), ("10,000,000 cases", "limits.max_cases"), P),
    ("generate/num-val-negative", (*G, "--num-val", "-1"), ("--num-val", "allowed 0 or more"), P),
    ("generate/dataset-id-zero", (*G, "--format", "nnunet", "--dataset-id", "0"), ("--dataset-id", "allowed 1..999"), P),
    ("generate/dataset-id-1000", (*G, "--format", "nnunet", "--dataset-id", "1000"), ("--dataset-id", "allowed 1..999"), P),
    ("generate/format", (*G, "--format", "nifti"), ("--format", "'nifti'", "decathlon"), P),
    ("generate/task", (*G, "--task", "detection"), ("--task", "'detection'"), P),
    ("generate/nnunet-classification", (*G, "--format", "nnunet", "--task", "classification"), ("--task classification", "nnU-Net"), P),
    ("generate/resume-and-overwrite", (*G, "--resume", "--overwrite"), ("--overwrite", "not allowed with"), P),
    ("generate/out-empty", ("generate", "--preset", "{ws}/ok.yaml", "--out", ""), ("--out", "empty path"), P),
    ("generate/out-is-file", (*G[:4], "{ws}/notes.txt"), ("notes.txt", "not a folder"), (*P, write("notes.txt", "mine"))),
    ("generate/out-foreign", G, ("--out", "not empty", "mine.txt", "--overwrite"), (*P, folder("ds", "mine.txt"))),
    ("generate/out-twin-id", (*G[:4], "{ws}/raw", "--format", "nnunet"), ("--dataset-id 501", "Dataset501_other"), (*P, folder("raw/Dataset501_other", "dataset.json"))),
    ("generate/max-memory-tiny", (*G, "--max-memory", "0.01"), ("generate: needs about", "--max-memory"), P),
    ("generate/workers-memory", (*G[:2], "{ws}/big.yaml", *G[3:], "--workers", "4"), ("generate: needs about", "rendering worker(s)"), (preset_file({"volume": {"shape": [512, 512, 400]}, "objects": {"per_volume": 200}}, "big.yaml"),)),
    ("bench/samples-zero", ("bench", "--preset", "{ws}/ok.yaml", "--samples", "0"), ("--samples", "allowed 1..1000"), P),
    ("bench/naive-zero", ("bench", "--preset", "{ws}/ok.yaml", "--naive-samples", "0"), ("--naive-samples", "allowed 1..100"), P),
    ("bench/shape-voxels", ("bench", "--preset", "{ws}/ok.yaml", "--shape", "2048", "2048", "2048"), ("--shape", "limits.max_voxels"), P),
    ("classes/task", ("classes", "--preset", "{ws}/ok.yaml", "--task", "colour"), ("--task", "'colour'", "allowed: shape"), P),
    ("list/what", ("list", "everything"), ("invalid choice", "'everything'"), ()),
    ("presets/no-action", ("presets",), ("ACTION",), ()),
    ("presets/validate-nothing", ("presets", "validate"), ("the following arguments are required",), ()),
    ("presets/show-missing", ("presets", "show", "{ws}/none.yaml"), ("none.yaml", "no such preset"), ()),
    ("presets/validate-swin-on-cpu", ("presets", "validate", "fdif-paper", "--device", "cpu"), ("fdif-paper", "pretrain: needs about", "training on the CPU"), ()),
    ("presets/validate-device", ("presets", "validate", "fdif-paper", "--device", "tpu"), ("--device", "'tpu'"), ()),
    ("presets/validate-one-bad-of-two", ("presets", "validate", "{ws}/ok.yaml", "{ws}/p.yaml"), ("p.yaml", "seed"), (*P, preset_file({"seed": -3}))),
    ("export/run-missing", ("export-weights", "{ws}/none"), ("none", "no checkpoint"), ()),
    ("export/run-empty", ("export-weights", ""), ("RUN", "empty path"), ()),
    ("export/out-empty", ("export-weights", "{ws}/run", "--out", ""), ("--out", "empty path"), (run_folder(),)),
    ("export/out-exists", ("export-weights", "{ws}/run", "--out", "{ws}/w.pth"), ("--out", "w.pth", "exists", "--overwrite"), (run_folder(), write("w.pth", "old weights"))),
    ("export/out-default-exists", ("export-weights", "{ws}/run", "--dataset", "{ws}/Dataset990_Toy", "--plans", "nnUNetResEncUNetLPlans"), ("nnunet_Dataset990_Toy_fdif_unet_small.pth", "exists", "--overwrite"), (run_folder(), nnunet_toy(), write("run/nnunet_Dataset990_Toy_fdif_unet_small.pth", "old"))),
    ("export/dataset-missing", ("export-weights", "{ws}/run"), ("--dataset", "$nnUNet_preprocessed"), (run_folder(),)),
    ("export/plans-missing", ("export-weights", "{ws}/run", "--dataset", "{ws}/Dataset990_Toy"), ("--plans nnUNetPlans", "plans there: nnUNetResEncUNetLPlans"), (run_folder(), nnunet_toy())),
    ("export/out-folder", ("export-weights", "{ws}/run", "--out", "{ws}/exports"), ("exports", "is a folder"), (run_folder(), folder("exports"))),
    ("export/out-folder-overwrite", ("export-weights", "{ws}/run", "--out", "{ws}/exports", "--overwrite"), ("exports", "is a folder"), (run_folder(), folder("exports", "a.txt"))),
    ("export/out-own-last", ("export-weights", "{ws}/run", "--out", "{ws}/run/last.pt", "--overwrite"), ("last.pt", "keeps for itself"), (run_folder(),)),
    ("export/out-own-best", ("export-weights", "{ws}/run", "--out", "{ws}/run/best.pt", "--overwrite"), ("best.pt", "keeps for itself"), (run_folder(),)),
    ("export/out-own-log", ("export-weights", "{ws}/run", "--out", "{ws}/run/log.jsonl", "--overwrite"), ("log.jsonl", "keeps for itself"), (run_folder(),)),
    ("export/out-fifo", ("export-weights", "{ws}/run", "--out", "{ws}/pipe", "--overwrite"), ("pipe", "not a regular file"), (run_folder(), fifo("pipe"))),
    ("export/patch-zero", ("export-weights", "{ws}/run", "--patch", "0", "32", "32"), ("--patch", "allowed 1..4096"), (run_folder(),)),
    ("export/patch-text", ("export-weights", "{ws}/run", "--patch", "many", "32", "32"), ("--patch", "'many'"), (run_folder(),)),
    ("export/format", ("export-weights", "{ws}/run", "--format", "onnx"), ("--format", "'onnx'"), (run_folder(),)),
    ("evaluate/overlap-one", ("evaluate", "--weights", "{ws}/c.pt", "--overlap", "1"), ("--overlap", "[0, 1)"), ()),
    ("evaluate/overlap-negative", ("evaluate", "--weights", "{ws}/c.pt", "--overlap", "-0.1"), ("--overlap", "-0.1"), ()),
    ("evaluate/overlap-nan", ("evaluate", "--weights", "{ws}/c.pt", "--overlap", "nan"), ("--overlap", "nan", "finite"), ()),
    ("evaluate/tolerance-zero", ("evaluate", "--weights", "{ws}/c.pt", "--tolerances", "0"), ("--tolerances", "allowed a finite number > 0"), ()),
    ("evaluate/tolerance-inf", ("evaluate", "--weights", "{ws}/c.pt", "--tolerances", "1", "inf"), ("--tolerances", "inf"), ()),
    ("evaluate/split", ("evaluate", "--weights", "{ws}/c.pt", "--split", "train"), ("--split", "'train'"), ()),
    ("evaluate/weights-missing", ("evaluate", "--weights", "{ws}/none.pt"), ("none.pt", "no checkpoint"), ()),
    ("evaluate/weights-pretrain", ("evaluate", "--weights", "{ws}/c.pt"), ("--weights", "not a fine-tuned checkpoint"), (ok_ckpt(),)),
    ("evaluate/out-not-empty", ("evaluate", "--weights", "{ws}/c.pt", "--out", "{ws}/ev"), ("--out", "not empty", "--overwrite"), (ok_ckpt(), folder("ev", "metrics.json"))),
    ("evaluate/default-out-not-empty", ("evaluate", "--weights", "{ws}/run/last.pt"), ("eval_val", "not empty"), (run_folder(), folder("run/eval_val", "metrics.json"))),
    ("finetune/workers-thousand", (*FINETUNE, "--workers", "1000"), ("--workers", "1000: allowed 0.."), ()),
    ("finetune/workers-negative", (*FINETUNE, "--workers", "-1"), ("--workers", "allowed 0.."), ()),
    ("finetune/max-steps-zero", (*FINETUNE[:7], "0"), ("--max-steps", "allowed 1 or more"), ()),
    ("finetune/fold-7", (*FINETUNE, "--fold", "7"), ("--fold", "7", "0..4"), (toy(),)),
    ("finetune/fold-text", (*FINETUNE, "--fold", "first"), ("--fold first", "allowed: 0..4, dataset, all"), ()),
    ("finetune/fold-dataset", (*FINETUNE, "--fold", "dataset"), ("--fold dataset", "no validation list"), (toy(),)),
    ("finetune/out-empty", ("finetune", "--dataset", "{ws}/ds", "--scratch", "--out", ""), ("--out", "empty path"), ()),
    ("finetune/out-foreign", FINETUNE, ("--out", "holds other files", "notes.txt"), (toy(), folder("run", "notes.txt"))),
    ("finetune/out-existing-run", FINETUNE, ("already holds a run", "resume it"), (toy(), run_folder())),
    ("finetune/resume-and-out", ("finetune", "--resume", "{ws}/run", "--out", "{ws}/x"), ("--resume", "only the run folder"), ()),
    ("finetune/no-source", ("finetune", "--dataset", "{ws}/ds", "--out", "{ws}/run"), ("--weights CKPT or --scratch",), ()),
    ("finetune/weights-and-scratch", (*FINETUNE, "--weights", "{ws}/c.pt"), ("--weights", "not allowed with argument --scratch"), ()),
    ("finetune/dataset-missing", FINETUNE, ("--dataset", "ds", "no such dataset"), ()),
    ("finetune/dataset-empty", ("finetune", "--dataset", "", "--scratch", "--out", "{ws}/run"), ("--dataset", "empty path"), ()),
    ("finetune/weights-missing", (*FINETUNE[:3], "--weights", "{ws}/none.pt", *FINETUNE[4:]), ("none.pt",), (toy(),)),
    ("finetune/preset-without-finetune", (*FINETUNE[:-1], "{ws}/ok.yaml"), ("ok.yaml", "finetune"), (toy(), ok_preset)),
    ("finetune/resume-nothing", ("finetune", "--resume", "{ws}/empty"), ("--resume", "empty"), (folder("empty"),)),
    ("pretrain/workers-thousand", ("pretrain", "--preset", "{ws}/pt.yaml", "--out", "{ws}/run", "--workers", "1000"), ("--workers", "1000: allowed 0.."), (pretrain_preset,)),
    ("pretrain/max-steps-zero", ("pretrain", "--preset", "{ws}/pt.yaml", "--out", "{ws}/run", "--max-steps", "0"), ("--max-steps", "allowed 1 or more"), (pretrain_preset,)),
    ("pretrain/out-and-resume", ("pretrain", "--out", "{ws}/a", "--resume", "{ws}/b"), ("--resume and --out",), ()),
    ("pretrain/nothing", ("pretrain",), ("--preset P --out DIR", "--resume"), ()),
    ("pretrain/out-foreign", ("pretrain", "--preset", "{ws}/pt.yaml", "--out", "{ws}/run"), ("--out", "holds other files", "mine.txt"), (pretrain_preset, folder("run", "mine.txt"))),
    ("pretrain/out-existing-run", ("pretrain", "--preset", "{ws}/pt.yaml", "--out", "{ws}/run"), ("already holds a run", "resume it"), (pretrain_preset, run_folder())),
    ("pretrain/no-section", ("pretrain", "--preset", "{ws}/ok.yaml", "--out", "{ws}/run"), ("no pretrain: section",), P),
    ("pretrain/resume-missing", ("pretrain", "--resume", "{ws}/none"), ("none",), ()),
    ("pretrain/data-missing", ("pretrain", "--preset", "{ws}/pt.yaml", "--out", "{ws}/run", "--data", "{ws}/none", "--no-progress"), ("--data", "none", "not a folder"), (pretrain_preset,)),
    ("pretrain/swin-on-cpu", ("pretrain", "--preset", "fdif-paper", "--out", "{ws}/run"), ("pretrain: needs about", "swinunetr training on the CPU", "--device cuda"), ()),
    ("finetune/swin-on-cpu", (*FINETUNE[:-1], "btcv"), ("finetune: needs about", "swinunetr training on the CPU"), (toy(),)),
    ("pretrain/max-memory-tiny", ("pretrain", "--preset", "{ws}/pt.yaml", "--out", "{ws}/run", "--max-memory", "0.5"), ("pretrain: needs about", "limit is 0.5 GiB (--max-memory)"), (pretrain_preset,)),
    ("pretrain/out-empty", ("pretrain", "--preset", "{ws}/pt.yaml", "--out", ""), ("--out", "empty path"), (pretrain_preset,)),
    ("compare/out-foreign", ("compare", "--dataset", "{ws}/ds", "--out", "{ws}/cmp"), ("--out", "does not write", "mine.txt"), (folder("cmp", "mine.txt"),)),
    ("compare/folds", ("compare", "--dataset", "{ws}/ds", "--out", "{ws}/cmp", "--folds", "first"), ("--folds first", "allowed"), ()),
    ("compare/weights-format", ("compare", "--dataset", "{ws}/ds", "--out", "{ws}/cmp", "--weights", "fdif"), ("fdif", "NAME=CHECKPOINT"), ()),
]  # fmt: skip


def _command_line() -> list[Bad]:
    return [Bad(f"cli/{name}", args, expect, setup) for name, args, expect, setup in COMMAND_LINE]


def _datasets() -> list[Bad]:
    T = toy()
    rows: list[tuple[str, tuple[Setup, ...], tuple[str, ...]]] = [
        ("label-value-3", (T, edit_nifti(LAB0, lambda a: _poke(a, 3))), ("case toy_000", "labelsTr/toy_000.nii.gz", "value(s) 3", "classes 0..2")),
        ("label-value-255", (T, edit_nifti(LAB0, lambda a: _poke(a, 255))), ("case toy_000", "255", "0..2")),
        ("label-negative", (T, edit_nifti(LAB0, lambda a: _poke(a, -1), "int16")), ("case toy_000", "value(s) -1", "0..2")),
        ("label-fraction", (T, edit_nifti(LAB0, lambda a: _poke(a, 1.5), "float32")), ("case toy_000", "non-integer values 1.5", "whole numbers 0..2")),
        ("label-nan", (T, edit_nifti(LAB0, lambda a: _poke(a, float("nan")), "float32")), ("case toy_000", "non-integer", "nan")),
        ("label-2d", (T, edit_nifti(LAB0, lambda a: a[:, :, 0])), ("case toy_000", "label", "2D")),
        ("label-4d", (T, edit_nifti(LAB0, lambda a: a[..., None].repeat(2, -1))), ("case toy_000", "label", "4D", "allowed: 3D")),
        ("image-nan", (T, edit_nifti(IMG0, lambda a: _poke(a, float("nan")))), ("case toy_000", "toy_000_0000.nii.gz", "1 NaN and 0 inf", "finite intensities")),
        ("image-inf", (T, edit_nifti(IMG0, lambda a: _poke(a, float("inf")))), ("case toy_000", "toy_000_0000.nii.gz", "0 NaN and 1 inf", "finite intensities")),
        ("image-2d", (T, edit_nifti(IMG0, lambda a: a[:, :, 0])), ("case toy_000", "toy_000_0000.nii.gz", "2D", "allowed: 3D")),
        ("image-4d", (T, edit_nifti(IMG0, lambda a: a[..., None].repeat(3, -1))), ("case toy_000", "image", "4D")),
        ("image-5d", (T, edit_nifti(IMG0, lambda a: a[..., None, None].repeat(2, -1))), ("case toy_000", "image", "5D")),
        ("image-label-shape", (T, edit_nifti(IMG0, lambda a: a[:-2])), ("case toy_000", "shape mismatch")),
        ("label-missing", (T, remove(LAB0)), ("case toy_000", "missing label file")),
        ("image-corrupt", (T, write(IMG0, b"\x1f\x8b\x08\x00" + b"\0" * 64)), ("case toy_000", "cannot read", "toy_000_0000.nii.gz")),
        ("image-truncated", (T, _truncate(IMG0)), ("case toy_000", "toy_000_0000.nii.gz")),
        ("image-text", (T, write(IMG0, "not an image\n")), ("case toy_000", "cannot read")),
        ("image-huge-header", (T, _huge_header(IMG0)), ("case toy_000", "toy_000_0000.nii.gz", "claims 27,000,000,000,000 voxels", "at most 2,147,483,648")),
        ("json-invalid", (T, write("ds/dataset.json", "{labels: ")), ("dataset.json", "not valid JSON")),
        ("json-list", (T, write("ds/dataset.json", "[]")), ("dataset.json", "JSON object", "list")),
        ("json-no-labels", (T, edit_json("ds/dataset.json", lambda d: _set(d, "labels", _DROP))), ("dataset.json", "labels")),
        ("json-labels-gap", (T, edit_json("ds/dataset.json", lambda d: _set(d, "labels", {"background": 0, "ball": 2}))), ("labels", "consecutive", "[0, 2]")),
        ("json-labels-one", (T, edit_json("ds/dataset.json", lambda d: _set(d, "labels", {"background": 0}))), ("labels", "at least one class")),
        ("json-ignore-label", (T, edit_json("ds/dataset.json", lambda d: _set(d, "labels", {"background": 0, "ball": 1, "ignore": 2}))), ("labels.ignore", "not supported")),
        ("json-region-label", (T, edit_json("ds/dataset.json", lambda d: _set(d, "labels", {"background": 0, "ball": [1, 2]}))), ("labels.ball", "region-based")),
        ("json-channel-keys", (T, edit_json("ds/dataset.json", lambda d: _set(d, "channel_names", {"a": "MR"}))), ("channel_names", "channel indices")),
        ("json-num-training", (T, edit_json("ds/dataset.json", lambda d: _set(d, "numTraining", 9))), ("numTraining is 9", "holds 5")),
        ("json-two-channels", (T, edit_json("ds/dataset.json", lambda d: _set(d, "channel_names", {"0": "MR", "1": "CT"}))), ("case toy_000", "_0000", "names 2")),
        ("image-no-channel-suffix", (T, _rename(IMG0, "ds/imagesTr/toy_000.nii.gz")), ("toy_000.nii.gz", "_XXXX")),
        ("no-images-folder", (T, _rmtree("ds/imagesTr")), ("imagesTr",)),
        ("no-dataset-json", (T, remove("ds/dataset.json")), ("no dataset.json",)),
        ("too-few-cases", (toy(num_cases=3),), ("3 training case(s)", "5 folds")),
        ("datalist-no-image", (toy("ds", "datalist"), edit_json("ds/datalist.json", lambda d: _set(d, "training", [{"label": "x.nii.gz"}]))), ("training[0]", "no image")),
        ("datalist-duplicate", (toy("ds", "datalist"), edit_json("ds/datalist.json", lambda d: _set(d, "training", d["training"] + d["training"][:1]))), ("listed twice",)),
        ("msd-channels", (toy("ds", "msd", channels=2), edit_json("ds/dataset.json", lambda d: _set(d, "modality", {"0": "MR"}))), ("case toy_000", "toy_000.nii.gz", "4D", "allowed: 3D")),
    ]  # fmt: skip
    out = []
    for name, setup, expect in rows:
        args = FINETUNE
        if name.startswith("datalist"):
            args = tuple(a.replace("{ws}/ds", "{ws}/ds/datalist.json") for a in FINETUNE)
        out.append(Bad(f"dataset/{name}", args, expect, setup))
    return out


def _poke(a: Any, value: float) -> Any:
    import numpy as np

    v = np.asarray(value)
    kind = np.min_scalar_type(value) if v.dtype.kind in "iu" else np.dtype(np.float32)
    a = a.astype(np.result_type(a.dtype, kind))
    a[a.shape[0] // 2, a.shape[1] // 2, a.shape[2] // 2] = value
    return a


def _huge_header(rel: str) -> Setup:
    """A NIfTI file whose header claims 30000³ float32 voxels (8 bytes of data follow)."""

    def setup(ws: Path) -> None:
        import nibabel as nib
        import numpy as np

        h = nib.Nifti1Header()
        h.set_data_shape((30000, 30000, 30000))
        h.set_data_dtype(np.float32)
        (ws / rel).write_bytes(gzip.compress(h.binaryblock + b"\0" * 12))

    return setup


def _truncate(rel: str) -> Setup:
    def setup(ws: Path) -> None:
        data = (ws / rel).read_bytes()
        (ws / rel).write_bytes(data[: len(data) // 2])

    return setup


def _rename(rel: str, to: str) -> Setup:
    def setup(ws: Path) -> None:
        (ws / rel).rename(ws / to)

    return setup


def _rmtree(rel: str) -> Setup:
    def setup(ws: Path) -> None:
        import shutil

        shutil.rmtree(ws / rel)

    return setup


def _checkpoints() -> list[Bad]:
    state = checkpoint_state
    rows: list[tuple[str, Setup, tuple[str, ...]]] = [
        ("empty", write("c.pt", b""), ("c.pt", "not a readable checkpoint")),
        ("random-bytes", write("c.pt", os.urandom(4096)), ("c.pt", "not a readable checkpoint")),
        ("text", write("c.pt", "weights\n"), ("c.pt", "not a readable checkpoint")),
        ("pickle-payload", write("c.pt", pickle.dumps(_Payload())), ("c.pt", "not a readable checkpoint")),
        ("torch-pickle-payload", ckpt("c.pt", lambda: torch_bytes({"x": _Payload()})), ("c.pt", "not a readable checkpoint")),
        ("zip-not-torch", ckpt("c.pt", _zip_bytes), ("c.pt", "not a readable checkpoint")),
        ("truncated", ckpt("c.pt", lambda: checkpoint_bytes()[:2000]), ("c.pt", "not a readable checkpoint")),
        ("a-list", ckpt("c.pt", lambda: torch_bytes([1, 2, 3])), ("c.pt", "missing fields")),
        ("missing-model", ckpt("c.pt", lambda: torch_bytes(_without(state(), "model"))), ("c.pt", "missing fields")),
        ("model-a-tensor", ckpt("c.pt", lambda: torch_bytes(state(model=__import__("torch").zeros(3)))), ("c.pt", "model", "state dict")),
        ("model-values-text", ckpt("c.pt", lambda: torch_bytes(state(model={"w": "x"}))), ("c.pt", "model", "named tensors")),
        ("step-negative", ckpt("c.pt", lambda: torch_bytes(state(step=-5))), ("c.pt", "step", "-5")),
        ("step-text", ckpt("c.pt", lambda: torch_bytes(state(step="5"))), ("c.pt", "step", "'5'")),
        ("preset-not-text", ckpt("c.pt", lambda: torch_bytes(state(preset=5))), ("c.pt", "preset", "text")),
        ("nan-weights", ckpt("c.pt", nan_weights), ("c.pt", "NaN or inf", "earlier checkpoint")),
        ("unknown-model", ckpt("c.pt", lambda: torch_bytes(state(model_name="swinunetr"))), ("c.pt", "'swinunetr'", "no nnU-Net counterpart")),
        ("classification", ckpt("c.pt", lambda: torch_bytes(state(task="classification"))), ("c.pt", "classification")),
        ("folder-without-last", folder("c.pt"), ("last.pt", "no checkpoint")),
        ("fifo", fifo("c.pt"), ("c.pt", "no checkpoint")),
        ("sparse-huge", sparse("c.pt", 1 << 34), ("c.pt", "not a readable checkpoint")),
    ]  # fmt: skip
    out = [
        Bad(
            f"checkpoint/{n}/export",
            ("export-weights", "{ws}/c.pt", "--out", "{ws}/w.pth"),
            e,
            (s,),
        )
        for n, s, e in rows
    ]
    for n, s, e in rows[:6] + rows[14:15]:
        out.append(
            Bad(
                f"checkpoint/{n}/finetune",
                (*FINETUNE[:3], "--weights", "{ws}/c.pt", *FINETUNE[4:]),
                e,
                (toy(), s),
            )
        )
    for n, s, e in rows[:1] + rows[6:7] + rows[14:15]:  # a run whose last.pt is broken
        resume = ckpt("run/last.pt", lambda s=s: _setup_bytes(s))
        e = tuple(x.replace("c.pt", "last.pt") for x in e)
        args = ("pretrain", "--resume", "{ws}/run", "--no-progress")
        out.append(Bad(f"checkpoint/{n}/resume", args, e, (run_folder(), resume)))
    out.append(
        Bad(
            "checkpoint/dev-zero/export",
            ("export-weights", "/dev/zero", "--out", "{ws}/w.pth"),
            ("/dev/zero", "no checkpoint"),
        )
    )
    return out


def _setup_bytes(setup: Setup) -> bytes:
    """The bytes a ``write``/``ckpt`` setup puts at c.pt."""
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        setup(Path(tmp))
        return (Path(tmp) / "c.pt").read_bytes()


def _without(d: dict, key: str) -> dict:
    d = dict(d)
    d.pop(key)
    return d


def _zip_bytes() -> bytes:
    import zipfile

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("archive/data.pkl", b"not a pickle")
    return buf.getvalue()


def _disk() -> list[Bad]:
    """Full disks (a 1 MiB tmpfs mounted at ``{ws}/full``) and other file-system refusals."""
    rows = [
        Bad("disk/generate-full", ("generate", "--preset", "{ws}/big.yaml", "--out", "{ws}/full/ds", "--quiet"),
            ("full/ds/", "No space left on device", "disk is full"),
            (preset_file({"volume": {"shape": [64, 64, 64]}, "dataset": {"num_samples": 40}}, "big.yaml"),), kind="tmpfs"),
        Bad("disk/generate-full-workers", ("generate", "--preset", "{ws}/big.yaml", "--out", "{ws}/full/ds", "--quiet", "--workers", "2"),
            ("full/ds/", "No space left on device"),
            (preset_file({"volume": {"shape": [64, 64, 64]}, "dataset": {"num_samples": 40}}, "big.yaml"),), kind="tmpfs"),
        Bad("disk/sample-full", ("sample", "--preset", "{ws}/big.yaml", "--out", "{ws}/full/s", "--count", "30"),
            ("full/s/", "No space left on device"),
            (preset_file({"volume": {"shape": [64, 64, 64]}}, "big.yaml"),), kind="tmpfs"),
        Bad("disk/export-overwrite-full", ("export-weights", "{ws}/run", "--out", "{ws}/full/w.pth", "--overwrite",
                                           "--dataset", "{ws}/Dataset990_Toy", "--plans", "nnUNetResEncUNetLPlans"),
            ("full/w.pth", "No space left on device", "disk is full"),
            (run_folder(), nnunet_toy(), write("full/w.pth", "old weights")), kind="tmpfs", group="tight"),
        Bad("disk/name-too-long", ("sample", "--preset", "{ws}/ok.yaml", "--out", "{ws}/" + "x" * 300),
            ("File name too long",), (ok_preset,)),
        Bad("disk/out-in-proc", ("sample", "--preset", "{ws}/ok.yaml", "--out", "/proc/fdif_out"),
            ("/proc/fdif_out",), (ok_preset,)),
        Bad("disk/read-only", ("generate", "--preset", "{ws}/ok.yaml", "--out", "{ws}/ro/ds", "--quiet"),
            ("ro/ds", "Read-only file system"), (ok_preset,), kind="tmpfs-ro"),
    ]  # fmt: skip
    return rows


def _interrupts() -> list[Bad]:
    return [
        Bad("interrupt/generate-sigint", ("generate", "--preset", "{ws}/big.yaml", "--out", "{ws}/ds", "--quiet", "--workers", "2"),
            ("interrupted", "--resume"), (preset_file({"volume": {"shape": [64, 64, 64]}, "objects": {"per_volume": 8}, "dataset": {"num_samples": 24}}, "big.yaml"),),
            code=130, kind="signal"),
        Bad("interrupt/generate-sigterm-inline", ("generate", "--preset", "{ws}/big.yaml", "--out", "{ws}/ds", "--quiet"),
            ("interrupted (SIGTERM)", "--resume"), (preset_file({"volume": {"shape": [64, 64, 64]}, "objects": {"per_volume": 8}, "dataset": {"num_samples": 24}}, "big.yaml"),),
            code=143, kind="signal"),
        Bad("interrupt/generate-group-sigterm", ("generate", "--preset", "{ws}/big.yaml", "--out", "{ws}/ds", "--quiet", "--workers", "2"),
            ("interrupted (SIGTERM)", "--resume"), (preset_file({"volume": {"shape": [64, 64, 64]}, "objects": {"per_volume": 8}, "dataset": {"num_samples": 24}}, "big.yaml"),),
            code=143, kind="signal"),
    ]  # fmt: skip


_FINETUNED: dict[str, bytes] = {}


def finetuned_bytes() -> bytes:
    """last.pt of a one-step fine-tuning of the toy dataset (made once per process)."""
    if "last" not in _FINETUNED:
        import tempfile

        from fdif_core.presets import load_preset
        from fdif_core.real.toy import write_toy_dataset
        from fdif_core.training.finetune import finetune

        with tempfile.TemporaryDirectory() as tmp:
            ds = write_toy_dataset(Path(tmp) / "ds", "nnunet")
            preset = load_preset("finetune/quick")
            res = finetune(ds, preset, Path(tmp) / "run", max_steps=1, progress=False,
                           log_fn=lambda *_: None)  # fmt: skip
            _FINETUNED["last"] = res.checkpoint.read_bytes()
    return _FINETUNED["last"]


def finetuned_nan() -> bytes:
    import torch

    state = torch.load(io.BytesIO(finetuned_bytes()), weights_only=True)
    key = next(k for k, v in state["model"].items() if v.is_floating_point())
    state["model"][key] = torch.full_like(state["model"][key], float("inf"))
    return torch_bytes(state)


def each_case(edit: Callable[[str], Setup], n: int = 5) -> Setup:
    def setup(ws: Path) -> None:
        for i in range(n):
            edit(f"{i:03d}")(ws)

    return setup


def _evaluate() -> list[Bad]:
    E = ("evaluate", "--weights", "{ws}/run/last.pt", "--dataset", "{ws}/ds", "--out", "{ws}/ev")
    R = ckpt("run/last.pt", finetuned_bytes)
    T = toy()
    img = lambda f: lambda i: edit_nifti(f"ds/imagesTr/toy_{i}_0000.nii.gz", f)  # noqa: E731
    lab = lambda f: lambda i: edit_nifti(f"ds/labelsTr/toy_{i}.nii.gz", f)  # noqa: E731
    rows = [
        ("image-nan", (R, T, each_case(img(lambda a: _poke(a, float("nan"))))), ("case toy_", "_0000.nii.gz", "NaN", "finite intensities")),
        ("image-inf", (R, T, each_case(img(lambda a: _poke(a, float("-inf"))))), ("case toy_", "1 inf", "finite intensities")),
        ("label-value", (R, T, each_case(lab(lambda a: _poke(a, 7)))), ("case toy_", "value(s) 7", "classes 0..2")),
        ("label-fraction", (R, T, each_case(lab(lambda a: _poke(a, 0.5)))), ("case toy_", "non-integer values 0.5")),
        ("label-truncated", (R, T, each_case(lambda i: _truncate(f"ds/labelsTr/toy_{i}.nii.gz"))), ("case toy_", "cannot read", "labelsTr/toy_")),
        ("image-2d", (R, T, each_case(img(lambda a: a[:, :, 0]))), ("case toy_000", "2D", "allowed: 3D")),
        ("classes-differ", (R, T, edit_json("ds/dataset.json", lambda d: _set(d, "labels", {"background": 0, "ball": 1, "cube": 2}))), ("classes", "cube", "differ")),
        ("channels-differ", (R, toy(channels=2)), ("2 channel(s)", "the network takes 1")),
        ("no-test-cases", (R, T), ("--split test", "no test cases")),
        ("dataset-missing", (R,), ("--dataset", "no such dataset")),
        ("weights-inf", (ckpt("run/last.pt", finetuned_nan), T), ("last.pt", "NaN or inf")),
    ]  # fmt: skip
    out = []
    for name, setup, expect in rows:
        args = (*E, "--split", "test") if name == "no-test-cases" else E
        out.append(Bad(f"evaluate/{name}", args, expect, setup))
    return out


def _training_interrupts() -> list[Bad]:
    long = {"pretrain": {**PRETRAIN, "iterations": 500, "checkpoint_interval": 400}}
    return [
        Bad("interrupt/pretrain-sigint", ("pretrain", "--preset", "{ws}/p.yaml", "--out", "{ws}/run", "--no-progress"),
            ("interrupted", "SIGINT", "saved", "resume with: fdif-core pretrain --resume"), (preset_file(long),),
            code=130, kind="signal"),
        Bad("interrupt/pretrain-group-sigterm-workers", ("pretrain", "--preset", "{ws}/p.yaml", "--out", "{ws}/run", "--no-progress", "--workers", "2"),
            ("interrupted", "SIGTERM", "saved", "resume with: fdif-core pretrain --resume"), (preset_file(long),),
            code=143, kind="signal"),
        Bad("interrupt/pretrain-group-sigint-workers", ("pretrain", "--preset", "{ws}/p.yaml", "--out", "{ws}/run", "--no-progress", "--workers", "2"),
            ("interrupted", "SIGINT", "saved", "--workers 2"), (preset_file(long),),
            code=130, kind="signal"),
        Bad("interrupt/finetune-group-sigterm-workers", ("finetune", "--dataset", "{ws}/ds", "--scratch", "--out", "{ws}/run", "--no-progress", "--preset", "quick", "--workers", "1"),
            ("interrupted", "SIGTERM", "saved", "resume with: fdif-core finetune --resume"), (toy(),),
            code=143, kind="signal"),
    ]  # fmt: skip


def corpus() -> list[Bad]:
    return [
        *_preset_files(),
        *_preset_fields(),
        *_command_line(),
        *_datasets(),
        *_checkpoints(),
        *_evaluate(),
        *_disk(),
        *_interrupts(),
        *_training_interrupts(),
        *_surfaces(),
    ]


def _surfaces() -> list[Bad]:
    from .bad_inputs_surfaces import surfaces  # issue 21: outputs, JSON, ranges, studies

    return surfaces()


CORPUS = corpus()
assert len({b.id for b in CORPUS}) == len(CORPUS), "corpus ids must be unique"
