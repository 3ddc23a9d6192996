"""One table of parameter metadata (fdif_core.engine.params): preset validation, the samplers
and the studio's knobs, widgets and checks agree on it for every family and knob."""

from __future__ import annotations

import math

import pytest
import torch
from pydantic import ValidationError

from fdif_core.engine.params import QT_INT_MAX, SHAPE_PARAMS, TEXTURE_PARAMS, Param
from fdif_core.engine.sdf.library import PRIMITIVES, sample_params
from fdif_core.engine.textures import displacements as D
from fdif_core.engine.textures import mappers as M
from fdif_core.presets.preset import ClassesConfig, DisplacementsConfig, MappersConfig
from fdif_studio.model import KNOBS, PARAM_BOUNDS, check_texture_params, knob_names, knobs_for
from fdif_studio.model.textures import INTEGER_PARAMS

FAMILY_PARAMS = [
    (kind, family, name)
    for kind, families in (("displacement", D.FAMILIES), ("mapper", M.FAMILIES))
    for family, spec in families.items()
    if spec.check is None  # formula families type their own parameters
    for name in spec.defaults
]


def probes(p: Param) -> list[float]:
    """Values at and just beyond each end of the domain, a fraction, the middle."""
    eps = 1e-3 * max(1.0, abs(p.high))
    return [p.low, p.high, p.low - eps, p.high + eps, p.low + 0.5, 0.5 * (p.low + p.high)]


def preset_accepts(kind: str, family: str, name: str, value: float) -> bool:
    inst = {"name": "probe", "family": family, "params": {name: value}}
    config = DisplacementsConfig if kind == "displacement" else MappersConfig
    try:
        config.model_validate({"enabled": [inst]})
    except ValidationError:
        return False
    return True


def studio_accepts(kind: str, family: str, name: str, value: float) -> bool:
    try:
        check_texture_params(kind, family, {name: value})
    except ValueError:
        return False
    return True


def test_every_family_parameter_has_metadata() -> None:
    for kind, family, name in FAMILY_PARAMS:
        assert name in TEXTURE_PARAMS, (kind, family, name)
    assert {n for _, _, n in FAMILY_PARAMS} == set(TEXTURE_PARAMS.names)


@pytest.mark.parametrize(("kind", "family", "name"), FAMILY_PARAMS)
def test_presets_and_studio_accept_the_same_texture_values(
    kind: str, family: str, name: str
) -> None:
    p = TEXTURE_PARAMS.get(name)
    for value in probes(p):
        expected = p.problem(value) is None
        assert preset_accepts(kind, family, name, value) == expected, (family, name, value)
        assert studio_accepts(kind, family, name, value) == expected, (family, name, value)


def test_octaves_has_one_bound_everywhere() -> None:
    p = TEXTURE_PARAMS.get("octaves")
    assert (p.low, p.high) == (1, 12) and PARAM_BOUNDS["octaves"][:2] == (1, 12)
    assert preset_accepts("displacement", "gradient_noise", "octaves", 12)
    assert studio_accepts("displacement", "gradient_noise", "octaves", 12)
    assert not studio_accepts("displacement", "gradient_noise", "octaves", 13)


@pytest.mark.parametrize("name", TEXTURE_PARAMS.names)
def test_studio_widgets_show_a_window_inside_the_domain(name: str) -> None:
    p = TEXTURE_PARAMS.get(name)
    lo, hi, step = PARAM_BOUNDS[name]
    assert (lo, hi, step) == p.view and step > 0
    assert p.problem(lo) is None and p.problem(hi) is None
    assert (name in INTEGER_PARAMS) == p.whole
    if p.whole:  # whole numbers: every allowed value can be shown (Qt's int limit aside)
        assert (lo, hi) == (p.low, min(p.high, QT_INT_MAX))


@pytest.mark.parametrize("name", PRIMITIVES.names)
def test_shape_knobs_sampler_and_presets_agree(name: str) -> None:
    cls = PRIMITIVES.get(name)
    knobs = {k.name: k for k in knobs_for(cls)}
    engine = [k for k in knob_names(cls) if k in SHAPE_PARAMS]
    assert engine == list(cls.params)
    for key in cls.params:
        p, k = SHAPE_PARAMS.get(key), knobs[key]
        (lo, hi), (vlo, vhi, _) = cls.ranges[key], p.view
        assert (k.lo, k.hi) == (vlo, vhi) == (KNOBS[key].lo, KNOBS[key].hi)
        assert p.low <= vlo <= lo <= hi <= vhi <= p.high, (name, key)  # sampled ⊂ shown ⊂ allowed
        ok = ClassesConfig.model_validate({"ranges": {name: {key: [p.low, p.high]}}})
        assert ok.ranges_for(name)[key] == (p.low, p.high)
        for bad in ([p.low - 0.5, p.high], [p.low, p.high + 0.5]):
            with pytest.raises(ValidationError, match="must lie within"):
                ClassesConfig.model_validate({"ranges": {name: {key: bad}}})


@pytest.mark.parametrize("name", PRIMITIVES.names)
def test_the_sampler_draws_exactly_the_class_parameters(name: str) -> None:
    """A NaN range poisons the drawn parameters iff the sampler reads that parameter."""
    cls = PRIMITIVES.get(name)
    for key in sorted({*cls.ranges, "major_radius"}):  # a preset may give any class a ring
        try:
            drawn = sample_params(
                cls, torch.Generator().manual_seed(0), 32.0, {key: (math.nan,) * 2}
            )
            read = any(_has_nan(v) for v in drawn.values())
        except (ValueError, RuntimeError, IndexError):
            read = True
        assert read == (key in cls.params), (name, key)


def _has_nan(v: object) -> bool:
    if isinstance(v, (list, tuple)):
        return any(_has_nan(x) for x in v)
    return isinstance(v, float) and math.isnan(v)
