"""The scaled-down comparison: same budget for every source, one table, reuse of runs."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from fdif_core.errors import UserError
from fdif_core.real.toy import write_toy_dataset
from fdif_core.studies.compare import compare, format_compare, parse_sources


def test_compare_sources_on_one_budget(tmp_path, tiny_finetune, fake_pretrained):
    ds = write_toy_dataset(tmp_path / "ds", num_cases=5)
    fake_pretrained(tmp_path / "fdif.pt", classes=110)
    fake_pretrained(tmp_path / "pgs.pt", classes=33)
    sources = parse_sources([f"fdif={tmp_path / 'fdif.pt'}", f"primgeoseg={tmp_path / 'pgs.pt'}"])
    assert list(sources) == ["scratch", "fdif", "primgeoseg"]
    preset = tiny_finetune(iterations=2, val_interval=0, preprocess={"cache": "disk"})
    lines: list[str] = []
    table = compare(ds, preset, sources, tmp_path / "cmp", folds=[0], log=lines.append)
    assert list(table["results"]) == ["scratch", "fdif", "primgeoseg"]
    for name in sources:
        ck = torch.load(tmp_path / "cmp" / name / "fold_0" / "last.pt", weights_only=True)
        assert ck["step"] == 2 and ck["weights"] == (sources[name] or "")
        # the table holds the run's own evaluation: per-class means over cases, then classes
        doc = json.loads(
            (tmp_path / "cmp" / name / "fold_0" / "eval_val" / "metrics.json").read_text()
        )
        cases = doc["per_case"].values()
        scores = [
            [c[k]["dice"] for c in cases if c[k]["dice"] is not None] for k in ("ball", "box")
        ]
        per_class = [np.mean(s) for s in scores if s]
        assert table["results"][name]["0"]["mean"]["dice"] == pytest.approx(np.mean(per_class))
    # one shared preprocessing cache
    assert len(list((tmp_path / "cmp" / "cache").iterdir())) == 1
    md = (tmp_path / "cmp" / "compare.md").read_text()
    assert md.strip() == format_compare(table)
    assert md.count("\n| ") == 3 and "| fdif |" in md
    assert json.loads((tmp_path / "cmp" / "compare.json").read_text())["iterations"] == 2
    # finished runs are reused, not re-trained
    lines.clear()
    again = compare(ds, preset, sources, tmp_path / "cmp", folds=[0], log=lines.append)
    assert sum("reusing" in m for m in lines) == 3
    assert again["results"] == table["results"]


@pytest.mark.parametrize("spec", ["fdif", "=x.pt", "scratch=a.pt", "fdif=missing.pt"])
def test_bad_sources(spec):
    with pytest.raises(UserError, match=r"^weights "):  # the argument; the CLI words --weights
        parse_sources([spec])
