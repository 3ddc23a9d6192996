"""The preset loader: strict safe YAML and file checks before any parsing."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from fdif_core.presets import PresetError, load_preset
from fdif_core.presets.loader import MAX_DEPTH, StrictLoader, parse_yaml


def test_strict_loader_is_a_safe_loader() -> None:
    assert issubclass(StrictLoader, yaml.SafeLoader)
    with pytest.raises(PresetError, match="could not determine a constructor"):
        parse_yaml("x: !!python/name:os.system\n", "p")


def test_same_data_as_safe_load_for_good_yaml() -> None:
    text = Path(__file__).resolve().parents[2].joinpath("presets/fdif-paper.yaml").read_text()
    assert parse_yaml(text, "p") == yaml.safe_load(text)


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("a: 1\na: 2\n", "duplicate key 'a'"),
        ("a:\n  b: 1\n  c: 2\n  b: 3\n", "duplicate key 'b'"),
        ("a: " + "[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1), "nested deeper"),
        ("a: &x [1, 2]\nb: [*x, *x]\n" + "".join(f"c{i}: 1\n" for i in range(3)), None),
    ],
)
def test_duplicates_and_depth(text: str, match: str | None) -> None:
    if match is None:
        assert parse_yaml(text, "p")["b"] == [[1, 2], [1, 2]]  # aliases within the limit work
    else:
        with pytest.raises(PresetError, match=match):
            parse_yaml(text, "p")


def test_nesting_at_the_limit_is_fine() -> None:
    depth = MAX_DEPTH - 1
    assert parse_yaml("a: " + "[" * depth + "]" * depth, "p") is not None


def test_utf8_bom_and_crlf_are_fine(tmp_path: Path) -> None:
    p = tmp_path / "p.yaml"
    p.write_bytes(b"\xef\xbb\xbfname: bom\r\nseed: 3\r\n")
    preset = load_preset(p)
    assert (preset.name, preset.seed) == ("bom", 3)
