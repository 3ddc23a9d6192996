"""``fdif_core.matching`` and ``fdif-core match``: recovery of known texture parameters, the
targets on a liver-like and a smooth region, determinism, files read back by their readers."""

from __future__ import annotations

import json
import math

import nibabel as nib
import numpy as np
import pytest
import yaml
from scipy import ndimage

from fdif_core.cli.main import main
from fdif_core.engine.textures.mappers import Mapper
from fdif_core.matching import (
    Frame,
    fit_region,
    merge_fragment,
    radial_spectrum,
    region_from_array,
)
from fdif_core.matching.synth import MapperChoice, mid_depth, points, unit_noise
from fdif_core.presets.preset import PRESET_DIR

FRAME = Frame()  # the quickstart frame: G 40, 1 mm voxels
SPACING = (0.8, 0.8, 1.5)  # an abdominal CT's voxels


def _known(shape, spacing, cell, octaves, persistence, family, params, scale, offset):
    """A region rendered with known texture parameters (the engine's own noise and mapper)."""
    x = points(shape, spacing, FRAME)
    n = unit_noise(x, FRAME.frequency(cell), octaves, persistence, seed=123).reshape(shape)
    delta = n / n.std() * 1.6
    choice = MapperChoice(Mapper("m", family, params), mid_depth(family, params, FRAME.clip),
                          scale, offset)  # fmt: skip
    return choice.scan_units(delta, FRAME.clip)


def _liver(seed: int = 0, shape=(40, 40, 40)) -> np.ndarray:
    """Fine speckle: band-passed white noise (wavelength about 5-6 mm), mean 43, std 12."""
    n = np.random.default_rng(seed).standard_normal(shape)
    band = ndimage.gaussian_filter(n, [1.0 / s for s in SPACING]) - ndimage.gaussian_filter(
        n, [2.5 / s for s in SPACING]
    )
    return (band - band.mean()) / band.std() * 12.0 + 43.0


def _smooth(seed: int = 1, shape=(40, 40, 40)) -> np.ndarray:
    n = ndimage.gaussian_filter(np.random.default_rng(seed).standard_normal(shape),
                                [6.0 / s for s in SPACING])  # fmt: skip
    return (n - n.mean()) / n.std() * 8.0 + 60.0


def _region(data, spacing=SPACING, name="r"):
    return region_from_array(data, np.ones(data.shape, bool), spacing, name=name)


# (cell mm, octaves, persistence, mapper family, params): tolerances stated in the test
KNOWN = [  # cells between the search grid's points (2^(1/6) apart)
    (4.5, 1, 0.5, "linear", {"slope": 10.0, "peak": 128.0}),
    (5.0, 2, 0.6, "exponential", {"base": 1.3, "peak": 128.0}),
]


@pytest.mark.parametrize("case", KNOWN, ids=lambda c: f"{c[3]}-{c[0]}mm-{c[1]}oct")
def test_fit_recovers_known_texture(case) -> None:
    """Cell within 20 % (one step of the search grid is 12 %), octaves within 2 (a high
    octave holds little power: p^6 = 5 % of it at persistence 0.6), the mapper family,
    the exponential base within 5 %, the intensity scale and the texture's amplitude in
    scan units within 5 %, the offset within 0.1 std."""
    cell, octaves, persistence, family, params = case
    scale, offset = 0.8, -10.0
    data = _known((40, 40, 40), (1.0, 1.0, 1.0), cell, octaves, persistence, family, params,
                  scale, offset)  # fmt: skip
    r = fit_region(_region(data, (1.0, 1.0, 1.0)), FRAME, seed=0)
    assert abs(r.cell_mm / cell - 1.0) <= 0.2
    assert abs(int(r.texture_params["octaves"]) - octaves) <= 2
    assert r.mapper_family == family
    if family == "exponential":
        assert r.mapper_params["base"] == pytest.approx(params["base"], rel=0.05)
    assert r.scale == pytest.approx(scale, rel=0.05)
    assert abs(r.offset - offset) <= 0.1 * data.std()
    assert r.fitted.std() == pytest.approx(data.std(), rel=0.05)
    assert r.after.w1 <= 0.1 * r.region_std


@pytest.mark.parametrize("make", [_liver, _smooth], ids=["liver", "smooth"])
def test_targets_on_soft_tissue_regions(make) -> None:
    """The spectrum distance falls by at least half from the histogram-only fit and the
    histogram W1 ends at most 0.25 x the region's std (the issue's targets)."""
    data = make()
    r = fit_region(_region(data), FRAME, seed=0)
    assert r.after.spectrum <= 0.5 * r.before.spectrum
    assert r.after.w1 <= 0.25 * r.region_std
    assert r.fitted.shape == data.shape
    assert abs(r.fitted.mean() - data.mean()) <= 0.1 * data.std()
    if make is _liver:  # fine speckle: the fit's dominant wavelength is the region's
        assert r.after.wavelength == pytest.approx(r.region_wavelength, rel=0.35)
        assert r.before.wavelength > 3 * r.region_wavelength  # the smooth gradient of before


def test_fit_is_deterministic_for_a_seed() -> None:
    data = _liver(shape=(24, 24, 16))
    a = fit_region(_region(data), FRAME, seed=5)
    b = fit_region(_region(data), FRAME, seed=5)
    c = fit_region(_region(data), FRAME, seed=6)
    assert a.fragment() == b.fragment()
    np.testing.assert_array_equal(a.fitted, b.fitted)
    assert c.texture_params["seed"] == 6 and not np.array_equal(a.fitted, c.fitted)


def test_spectrum_peak_is_in_cycles_per_mm() -> None:
    """A plane wave of 6 mm along an axis of 0.8 mm voxels peaks at 1/6 cycles/mm."""
    i = np.arange(60)[:, None, None] * 0.8
    wave = np.sin(2 * math.pi * i / 6.0) * np.ones((60, 8, 8))
    spec = radial_spectrum(wave, np.ones(wave.shape, bool), (0.8, 0.8, 1.5))
    assert spec.wavelength == pytest.approx(6.0, rel=0.1)


def test_merge_keeps_the_preset_and_replaces_same_names() -> None:
    preset = yaml.safe_load((PRESET_DIR / "quickstart.yaml").read_text())
    frag = {"displacements": {"enabled": [{"name": "t", "family": "gradient_noise",
                                           "params": {"amplitude": 0.1}}]},
            "mappers": {"enabled": [{"name": "m", "family": "linear", "params": {}}]}}  # fmt: skip
    once = merge_fragment(preset, frag)
    twice = merge_fragment(once, frag)
    assert twice == once
    assert once["mappers"]["enabled"][:-1] == preset["mappers"]["enabled"]
    assert once["displacements"]["enabled"] == [frag["displacements"]["enabled"][0]]
    assert preset["displacements"]["enabled"] == []  # the input is not changed


@pytest.fixture
def scan(tmp_path):
    """A liver-like scan on an oblique-free but offset affine, and a label map."""
    aff = np.diag([*SPACING, 1.0])
    aff[:3, 3] = [-120.0, 30.0, 8.0]
    data = np.full((48, 44, 30), -1000.0, np.float32)
    data[4:44, 2:42, 2:28] = _liver(shape=(40, 40, 26))
    nib.save(nib.Nifti1Image(data, aff), tmp_path / "ct.nii.gz")
    lab = np.zeros(data.shape, np.int16)
    lab[6:40, 4:40, 4:26] = 7
    nib.save(nib.Nifti1Image(lab, aff), tmp_path / "lab.nii.gz")
    return tmp_path, aff, data


def test_cli_writes_a_fragment_that_validates_in_quickstart(scan, capsys) -> None:
    d, aff, data = scan
    out, prev, rep = d / "texture.yaml", d / "fit.nii.gz", d / "fit.json"
    argv = ["match", "--scan", str(d / "ct.nii.gz"), "--roi", "4:44,2:42,2:28", "--out",
            str(out), "--preview", str(prev), "--json", str(rep), "--seed", "3"]  # fmt: skip
    assert main(argv) == 0
    text = capsys.readouterr().out
    assert "histogram W1:" in text and "spectrum W1:" in text and "intensity scale:" in text
    frag = yaml.safe_load(out.read_text())
    preset = yaml.safe_load((PRESET_DIR / "quickstart.yaml").read_text())
    merged = d / "merged.yaml"
    merged.write_text(yaml.safe_dump(merge_fragment(preset, frag), sort_keys=False))
    assert main(["presets", "validate", str(merged)]) == 0
    assert "5 mappers, 1 displacements" in capsys.readouterr().out
    img = nib.load(prev)  # the region's box, placed over it, in scan units
    assert img.shape == (40, 40, 26)
    expect = aff.copy()
    expect[:3, 3] = aff[:3, :3] @ [4, 2, 2] + aff[:3, 3]
    np.testing.assert_allclose(img.affine, expect, atol=1e-5)
    vals = np.asarray(img.dataobj)
    region = data[4:44, 2:42, 2:28]
    assert abs(vals.mean() - region.mean()) < 0.1 * region.std()
    report = json.loads(rep.read_text())
    assert (
        report["after"]["spectrum_w1_cycles_per_mm"]
        <= 0.5 * report["before"]["spectrum_w1_cycles_per_mm"]
    )
    assert report["after"]["histogram_w1"] <= 0.25 * report["region"]["std"]
    assert report["fragment"] == frag and report["seed"] == 3


def test_cli_label_region(scan, capsys) -> None:
    d, _, _ = scan
    out = d / "t.yaml"
    argv = ["match", "--scan", str(d / "ct.nii.gz"), "--mask", str(d / "lab.nii.gz"),
            "--label", "7", "--out", str(out), "--name", "liver"]  # fmt: skip
    assert main(argv) == 0
    assert "region ct: 26928 voxels" in capsys.readouterr().out
    frag = yaml.safe_load(out.read_text())
    assert frag["displacements"]["enabled"][0]["name"] == "liver_texture"
    assert frag["mappers"]["enabled"][0]["name"] == "liver_intensity"
