"""Qt-free parts behind the new panels: history, design files, plots data, scans, matching."""

from __future__ import annotations

import math

import nibabel as nib
import numpy as np
import pytest
import torch
import yaml

from fdif_core.presets import load_preset
from fdif_studio.model import DesignState, Session
from fdif_studio.model.analysis import (
    displacement_profile,
    mapper_curve,
    measure_region,
    texture_stats,
)
from fdif_studio.model.exports import export_sample, load_design, save_design
from fdif_studio.model.gallery import thumbnail
from fdif_studio.model.history import History
from fdif_studio.model.render import render_volumes
from fdif_studio.model.scans import placement, read_scan, window_limits


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def test_undo_redo_walks_recorded_designs_and_drops_the_redo_branch() -> None:
    s = DesignState(shape=(32, 32, 32))
    h = History(s)
    r0 = s.knobs["radius"]
    s.set_knob("radius", 0.3)
    h.record()
    s.set_mapper("sinusoidal", {"wavelength": 2.0})
    assert h.undo() and s.mapper == "linear" and s.knobs["radius"] == 0.3  # unrecorded first
    assert h.undo() and s.knobs["radius"] == r0 != 0.3
    assert not h.undo()
    assert h.redo() and s.knobs["radius"] == 0.3
    s.set_primitive("torus")
    h.record()
    assert not h.can_redo and not h.redo()


def test_design_files_round_trip_and_bad_ones_are_refused(tmp_path) -> None:
    s = DesignState(primitive="star_6_prism_convex", shape=(40, 40, 40))
    s.set_knob("peak_scale", 2.2)
    s.set_pose(angles_deg=(10.0, 20.0, -30.0))
    s.set_displacement("expression", {"expr": "a * sin(f * x)", "a": 0.02, "f": 30.0})
    s.set_mapper("floor", {"width": 2.0})
    path = save_design(tmp_path / "d_design.yaml", s)
    other = DesignState(shape=(40, 40, 40))
    other.restore(load_design(path))
    assert other.settings() == s.settings()
    a, b = render_volumes(s.request(24)), render_volumes(other.request(24))
    assert np.array_equal(a.image, b.image) and a.label.any()
    for text, msg in (("format: other\n", "not an FDIF Studio design"), ("[unclosed\n", "YAML")):
        (tmp_path / "bad.yaml").write_text(text)
        with pytest.raises(ValueError, match=msg):
            load_design(tmp_path / "bad.yaml")
    doc = yaml.safe_load(path.read_text())
    doc["design"]["primitive"] = "torsu"
    (tmp_path / "typo.yaml").write_text(yaml.safe_dump(doc))
    before = other.settings()
    with pytest.raises(ValueError, match="torus"):
        other.restore(load_design(tmp_path / "typo.yaml"))
    assert other.settings() == before  # nothing half-applied


def test_export_of_the_design_writes_a_reopenable_design(tmp_path) -> None:
    session = Session()
    session.design.set_knob("radius", 0.2)
    paths = export_sample(session, tmp_path, "d0", "design")
    assert [p.name for p in paths][-2:] == ["d0_design.yaml", "d0_preset.yaml"]
    img = nib.load(paths[0])
    assert img.shape == tuple(load_preset("quickstart").volume.shape)  # the edited preset's
    assert np.asarray(img.dataobj).max() > 0
    assert load_design(paths[3])["knobs"]["radius"] == 0.2
    with pytest.raises(ValueError, match="no scene sample"):
        export_sample(session, tmp_path, "s0", "scene sample")


def test_plots_data_follow_the_engine() -> None:
    s = DesignState(shape=(48, 48, 48))
    s.set_mapper("sinusoidal", {"wavelength": 3.0})
    s.set_displacement("ridge", {"amplitude": 0.04, "frequency": 10.0})
    req = s.request(48)
    vol = render_volumes(req)
    curve = mapper_curve(req, vol.phi)
    want = req.recipe.mappers[0](torch.from_numpy(curve.x)).numpy()
    assert np.array_equal(curve.y, want)
    lo, hi = curve.marked
    assert hi == 0.0 and lo == pytest.approx(float(vol.phi.min()))
    prof = displacement_profile(req)
    assert prof.bounds == pytest.approx((0.0, 3 * 0.04 * 24))  # ridge: 0..3A half-grids
    assert 0.0 < prof.amplitude <= prof.bounds[1]
    s.set_displacement("none")
    assert displacement_profile(s.request(24)) is None


@pytest.mark.parametrize(("wavelength", "spacing"), [(6.0, 1.0), (5.0, 0.5), (12.0, 2.0)])
def test_texture_stats_find_the_wavelength(wavelength: float, spacing: float) -> None:
    x = np.meshgrid(*[np.arange(40)] * 3, indexing="ij")[2]
    img = 100 + 20 * np.sin(2 * np.pi * x * spacing / wavelength)
    mask = np.zeros(img.shape, bool)
    mask[5:35, 5:35, 5:35] = True
    st = texture_stats(img, mask, (spacing,) * 3)
    assert st.mean == pytest.approx(100, abs=1) and st.spread == pytest.approx(
        20 / 2**0.5, rel=0.05
    )
    assert st.wavelength == pytest.approx(wavelength, rel=0.08)
    assert math.isinf(texture_stats(np.full((8, 8, 8), 3.0), None).wavelength)
    with pytest.raises(ValueError, match="empty"):
        texture_stats(img, np.zeros(img.shape, bool))


def test_scans_keep_their_affine_and_regions_measure(tmp_path) -> None:
    theta = math.radians(30)
    aff = np.array([[0.8 * math.cos(theta), -0.8 * math.sin(theta), 0, 10],
                    [0.8 * math.sin(theta), 0.8 * math.cos(theta), 0, -5],
                    [0, 0, 2.0, 3], [0, 0, 0, 1]])  # fmt: skip
    data = np.random.default_rng(0).normal(50, 5, (20, 24, 16)).astype(np.float32)
    nib.save(nib.Nifti1Image(data, aff), tmp_path / "scan.nii.gz")
    scan = read_scan(tmp_path / "scan.nii.gz")
    assert scan.name == "scan" and np.array_equal(scan.data, data)
    assert scan.spacing == pytest.approx((0.8, 0.8, 2.0))
    assert np.allclose(placement(scan.affine)["affine"], aff)
    assert placement(np.diag([1.5, 1.5, 3.0, 1.0])) == {
        "scale": (1.5, 1.5, 3.0), "translate": (0.0, 0.0, 0.0)
    }  # fmt: skip
    mask = np.zeros(data.shape, bool)
    mask[4:12, 4:12, 4:12] = True
    region = measure_region(scan.data, mask, scan.spacing)
    assert region.values.size == 512 and region.stats.mean == pytest.approx(50, abs=1)
    (tmp_path / "bad.nii.gz").write_bytes(b"not a scan")
    with pytest.raises(ValueError, match="cannot read"):
        read_scan(tmp_path / "bad.nii.gz")
    assert window_limits("CT lung", None) == (-1350.0, 150.0)
    assert window_limits("preset range", data, (0, 128)) == (0.0, 128.0)


def test_gallery_thumbnails_are_engine_drawn_and_cached(tmp_path) -> None:
    first = thumbnail("torus", tmp_path)
    stamp = first.stat().st_mtime_ns
    again = thumbnail("torus", tmp_path)
    assert again == first and again.stat().st_mtime_ns == stamp  # read from the cache
    from PIL import Image

    px = np.asarray(Image.open(first))
    lit = px.sum(-1) > 30
    assert 0.05 < lit.mean() < 0.8 and len(np.unique(px[lit][:, 0])) > 10  # shaded, not flat
    assert thumbnail("sphere", tmp_path) != first
