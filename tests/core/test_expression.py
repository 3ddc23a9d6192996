"""Formula families: typed expressions become torch operations, never ``eval``."""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch
import yaml

from fdif_core.engine.compose import ObjectSpec, Recipe
from fdif_core.engine.pose import Pose
from fdif_core.engine.spec import EngineSpec
from fdif_core.engine.textures import expression as X
from fdif_core.engine.textures.displacements import Displacement
from fdif_core.engine.textures.mappers import Mapper
from fdif_core.presets.preset import PresetError, parse_preset

WAVES = "0.02 * sin(40 * x) * cos(40 * y) + 0.01 * abs(sin(25 * z))"
BANDS = "clip(128 + 12 * d, 0, 128) * (0.75 + 0.25 * cos(2 * pi * d / 3))"

# malicious or malformed: every one must be refused with one line naming what is wrong
CORPUS = [
    "__import__('os').system('true')", "__import__", "x.__class__", "x.__class__.__bases__",
    "().__class__", "(1).real", "x[0]", "x[0:2]", "{'a': 1}['a']", "[x]", "(x, y)", "{x}",
    "lambda: 1", "(lambda q: q)(x)", "[x for x in y]", "(t for t in x)", "{t for t in x}",
    "{t: 1 for t in x}", "foo(x)", "eval('1')", "exec('1')", "open('/etc/passwd')",
    "getattr(x, 'y')", "globals()", "locals()", "vars()", "print(x)", "sin(x=1)",
    "sin(*x)", "sin(x, y)", "clip(x)", "'text'", "b'bytes'", "True", "None", "x if y else z",
    "x and y", "not x", "~x", "x << 2", "x | y", "x @ y", "x // 2", "x == y", "x < y < z",
    "(q := 1)", "x ** 100", "x ** y", "2 ** 2 ** 10", "x ** -20", "1e999", "1/x",
    "log(x)", "sqrt(y)", "", "   ", "x +", "sin(", "1 +* 2", "x\0", "(" * 200 + "x" + ")" * 200,
    "+".join(["x"] * 200), "x" * 401, "f'{x}'", "x.real", "y[...]", "await x", "yield x",
    "1j * x", "unknown_name + x",
]  # fmt: skip


@pytest.mark.parametrize("expr", CORPUS)
def test_malicious_or_malformed_formulas_are_refused_in_one_line(expr: str) -> None:
    with pytest.raises(X.ExpressionError) as err:
        X.check_displacement({"expr": expr})
    msg = str(err.value)
    assert "\n" not in msg and msg.startswith("expression")
    assert isinstance(err.value, ValueError)  # pydantic reports it as a preset field error


def test_corpus_is_large_and_refusals_name_the_token() -> None:
    assert len(CORPUS) >= 40
    for expr, token in (("__import__('os')", "__import__"), ("x.__class__", "x.__class__"),
                        ("x[0]", "x[0]"), ("lambda: 1", "lambda"), ("foo(x)", "foo"),
                        ("x ** 100", "100"), ("unknown_name + x", "unknown_name")):  # fmt: skip
        with pytest.raises(X.ExpressionError, match=token.replace("[", r"\[").replace("*", r"\*")):
            X.check_displacement({"expr": expr})


def test_formulas_evaluate_numbers_params_and_functions() -> None:
    pts = torch.tensor([[0.1, -0.2, 0.3], [0.5, 0.25, -1.0]])
    got = X.displacement_field(pts, expr="a * sin(f * x) + where(y > 0, 1, -1) * z ** 2", a=0.5,
                               f=3.0)  # fmt: skip
    x, y, z = pts.unbind(1)
    want = 0.5 * torch.sin(3.0 * x) + torch.where(y > 0, 1.0, -1.0) * z**2
    torch.testing.assert_close(got, want)
    assert X.displacement_field(pts, expr="0.25").tolist() == [0.25, 0.25]  # a constant field


def test_interval_bounds_contain_the_values() -> None:
    params = {"expr": WAVES}
    lo, hi = X.displacement_bounds(**params)
    assert (lo, hi) == pytest.approx((-0.02, 0.03))
    pts = (torch.rand(20000, 3, generator=torch.Generator().manual_seed(0)) * 2 - 1) * 2
    v = X.displacement_field(pts, **params)
    assert lo <= float(v.min()) and float(v.max()) <= hi
    assert float(v.max()) > 0.8 * hi  # and are not loose for this one
    assert X.displacement_bounds(expr="0.01 * x ** 2") == pytest.approx((0.0, 0.64))


def test_mapper_halo_from_interval_arithmetic() -> None:
    inside_only = Mapper("m", "expression", {"expr": BANDS})
    assert inside_only.halo() == 0.0
    cube = Mapper("c", "expression", {"expr": "128 / (abs(d) ** 3 + 1)", "outside": 1})
    builtin = Mapper("b", "inverse_cube")
    assert cube.halo() == pytest.approx(builtin.halo(), rel=1e-6)
    with pytest.raises(X.ExpressionError, match="outside"):
        Mapper("q", "expression", {"expr": "1 + d", "outside": 1}).halo()


def _spec(disp: Displacement | None, mapper: Mapper) -> EngineSpec:
    return EngineSpec(classes=["star_6_prism", "torus"], mappers=[mapper],
                      displacements=[disp] if disp else [], shape=(40, 40, 40), per_volume=4,
                      include_none=disp is None)  # fmt: skip


@pytest.mark.parametrize(
    ("builtin", "formula"),
    [
        (Displacement("b", "sine_lattice", {"amplitude": 0.03, "frequency": 50.0}),
         Displacement("f", "expression", {"expr": "amplitude * (sin(frequency * x) * "
                      "sin(frequency * y) + sin(frequency * z))", "amplitude": 0.03,
                      "frequency": 50.0})),
        (Mapper("b", "linear", {"slope": 10.0}),
         Mapper("f", "expression", {"expr": "clip(peak + slope * d, 0.0, peak)", "slope": 10.0,
                                    "peak": 128.0})),
    ],
)  # fmt: skip
def test_builtin_written_as_formula_renders_bit_for_bit(builtin, formula) -> None:
    def recipe(t):
        if isinstance(t, Displacement):
            return Recipe(_spec(t, Mapper("m", "sinusoidal", {"wavelength": 3.0})))
        return Recipe(_spec(Displacement("d", "ridge", {"amplitude": 0.03}), t))

    a, b = recipe(builtin), recipe(formula)
    for i in range(3):
        sa, sb = a.sample(i), b.sample(i)
        assert sa.label.any()
        assert torch.equal(sa.image, sb.image) and torch.equal(sa.label, sb.label)


def test_culling_keeps_formula_renders_exact() -> None:
    spec = _spec(Displacement("w", "expression", {"expr": WAVES}),
                 Mapper("m", "expression", {"expr": BANDS}))  # fmt: skip
    r = Recipe(spec)
    objs = r.scene(1)
    culled = r.render(objs)
    full = r.render(objs, full_grid=True)
    assert culled.label.any()
    assert torch.equal(culled.image, full.image) and torch.equal(culled.label, full.label)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no GPU")
def test_formula_runs_on_the_gpu() -> None:
    r = Recipe(_spec(Displacement("w", "expression", {"expr": WAVES}),
                     Mapper("m", "expression", {"expr": BANDS})))  # fmt: skip
    obj = ObjectSpec("torus", {"offset": 10.0, "radius": 4.0}, Pose.identity(), 0, 0)
    a, b = r.render([obj], device="cpu"), r.render([obj], device="cuda")
    assert (a.label != b.label.cpu()).float().mean() < 1e-3


def _preset_data() -> dict:
    return {
        "name": "formulas",
        "volume": {"shape": [24, 24, 24]},
        "objects": {"per_volume": 2},
        "classes": {"include": ["sphere", "torus"]},
        "displacements": {"enabled": [{"name": "my_waves", "family": "expression",
                                       "params": {"expr": WAVES}}]},
        "mappers": {"enabled": [{"name": "my_bands", "family": "expression",
                                 "params": {"expr": "a * " + BANDS, "a": 0.9}}]},
        "dataset": {"num_samples": 2, "num_val": 1},
    }  # fmt: skip


def test_presets_take_formulas_and_refuse_bad_ones_naming_the_field() -> None:
    preset = parse_preset(_preset_data())
    assert preset.recipe().sample(0).label.any()
    bad = _preset_data()
    bad["mappers"]["enabled"][0]["params"]["expr"] = "d.__class__"
    with pytest.raises(PresetError, match=r"mappers\.enabled.*attribute access 'd.__class__'"):
        parse_preset(bad)
    bad = _preset_data()
    bad["mappers"]["enabled"][0]["params"]["a"] = "0.9"
    with pytest.raises(PresetError, match=r"mappers\.enabled"):  # a number is needed
        parse_preset(bad)


@pytest.mark.slow
def test_cli_sample_and_generate_take_formula_presets(tmp_path) -> None:
    path = tmp_path / "formulas.yaml"
    path.write_text(yaml.safe_dump(_preset_data()))
    run = [sys.executable, "-m", "fdif_core"]
    out = subprocess.run([*run, "sample", "--preset", str(path), "--out", str(tmp_path / "s")],
                         capture_output=True, text=True)  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert (tmp_path / "s" / "image.nii.gz").is_file()
    out = subprocess.run([*run, "generate", "--preset", str(path), "--out", str(tmp_path / "g"),
                          "--num-samples", "2", "--num-val", "0", "--workers", "2", "--quiet"],
                         capture_output=True, text=True)  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert len(list((tmp_path / "g").rglob("*.nii.gz"))) == 4  # 2 images, 2 labels
    bad = _preset_data()
    bad["displacements"]["enabled"][0]["params"]["expr"] = "__import__('os').getcwd()"
    path.write_text(yaml.safe_dump(bad))
    out = subprocess.run([*run, "sample", "--preset", str(path), "--out", str(tmp_path / "b")],
                         capture_output=True, text=True)  # fmt: skip
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert "__import__" in out.stderr and len(out.stderr.strip().splitlines()) == 1


# ---- noise families in formulas: perlin(x, y, z, freq), fbm(x, y, z, freq, octaves)
def test_noise_functions_in_formulas_are_the_engines_noise_and_deterministic() -> None:
    from fdif_core.engine.textures import expression as E
    from fdif_core.engine.textures.displacements import gradient_noise, perlin3

    pts = torch.rand(4000, 3, generator=torch.Generator().manual_seed(1)) * 2 - 1
    one = E.displacement_field(pts, expr="0.05 * perlin(x, y, z, f)", f=6.0)
    torch.testing.assert_close(one, 0.05 * perlin3(pts * 6.0, seed=0))
    fbm = E.displacement_field(pts, expr="a * fbm(x, y, z, 4, 3)", a=0.1)
    torch.testing.assert_close(fbm, gradient_noise(pts, 0.1, 4.0, 3, 0.5, 0))
    again = E.displacement_field(pts, expr="a * fbm(x, y, z, 4, 3)", a=0.1)
    assert torch.equal(fbm, again) and fbm.std() > 0.005
    lo, hi = E.displacement_bounds(expr="0.05 * perlin(x, y, z, 6)")
    assert lo == pytest.approx(-0.055) and hi == pytest.approx(0.055)  # ±1.1 × 0.05
    assert float(one.abs().max()) <= hi


def test_mapper_formulas_take_noise_of_d_and_lines() -> None:
    from fdif_core.engine.textures import expression as E

    d = torch.linspace(-10, 0, 50)
    g = E.mapper_field(d, expr="64 + 20 * fbm(d, 0, 0, 0.5, 2)\n  + 8 * perlin(d, d, 0, 1)")
    assert g.shape == d.shape and 30 < float(g.mean()) < 100


@pytest.mark.parametrize(
    ("expr", "why"),
    [
        ("perlin(x, y, z, x)", "freq must be numbers or named parameters"),
        ("fbm(x, y, z, 4, 2.5)", "octaves = 2.5; allowed: an integer 1..8"),
        ("fbm(x, y, z, 4, 9)", "octaves = 9; allowed: an integer 1..8"),
        ("perlin(x, y, z)", "perlin() takes 4 arguments"),
    ],
)
def test_noise_functions_refuse_bad_arguments_in_one_line(expr: str, why: str) -> None:
    from fdif_core.engine.textures import expression as E

    with pytest.raises(E.ExpressionError, match=r"^expression: .*") as err:
        E.check_displacement({"expr": expr})
    assert why in str(err.value) and "\n" not in str(err.value)


def test_mapper_formulas_see_position_in_object_coordinates() -> None:
    from fdif_core.engine.textures import expression as E

    spec = EngineSpec(classes=["sphere"], shape=(32, 32, 32), per_volume=1,
                      mappers=[Mapper("m", "expression", {"expr": "64 + 60 * sin(3 * x)"})],
                      displacements=[], include_none=True)  # fmt: skip
    recipe = Recipe(spec)
    assert recipe.mappers[0].uses_position
    obj = ObjectSpec("sphere", {"radius": 12.0}, Pose.identity(), 0, -1)
    image = recipe.render([obj], (32, 32, 32)).image.float()
    inside = recipe.render([obj], (32, 32, 32)).label > 0
    # the intensity follows array axis 0 (x) and not y or z
    prof = [
        (image * inside).sum(dim=tuple(b for b in range(3) if b != a))
        / inside.sum(dim=tuple(b for b in range(3) if b != a)).clamp(min=1)
        for a in range(3)
    ]
    assert float(prof[0].max() - prof[0].min()) > 40
    assert float(prof[1][8:24].std()) < 2 and float(prof[2][8:24].std()) < 2
    d_only = Mapper("d", "expression", {"expr": "clip(128 + 12 * d, 0, 128)"})
    assert not d_only.uses_position
    assert not E.mapper_uses_position({"expr": "d * 2"})
    g = E.mapper_field(torch.tensor([-1.0, -2.0]), None, expr="10 + x - d")  # x = 0 w/o points
    assert g.tolist() == [11.0, 12.0]
