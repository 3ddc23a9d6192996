"""The output guard, the untrusted-JSON reader, the plans allow-list and captured warnings.

``test_every_output_goes_through_the_guard`` walks the argparse tree of ``fdif-core``: every
option that names something a command writes must be declared in its module's ``OUTPUTS``,
and running the command with it proves the guard sees it (before any work).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import warnings
from pathlib import Path

import pytest

from fdif_core.cli.main import build_parser, main
from fdif_core.errors import UserError
from fdif_core.io import guard
from fdif_core.io.untrusted import MAX_DEPTH, UntrustedError, read_json, read_json_lines
from fdif_core.networks.nnunet_allow import check_architecture, check_plans

PATH_METAVARS = {"DIR", "FILE", "PNG", "RUN", "RUN_DIR", "CKPT", "P", "D", "SPEC", "PLANS.json"}


def _subparsers() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(sub.choices)


def _path_like(action: argparse.Action) -> bool:
    metavar = action.metavar if isinstance(action.metavar, str) else None
    return action.dest in ("out", "cache") or metavar in PATH_METAVARS or "=CKPT" in str(metavar)


def test_every_path_option_is_classified() -> None:
    """Every option naming a file or folder is an output (guarded) or an input (compared
    with the outputs); identifiers and all declared names exist."""
    found = {}
    for name, p in _subparsers().items():
        mod = p.get_default("_mod")
        declared = getattr(mod, "OUTPUTS", {})
        inputs = set(getattr(mod, "INPUTS", ()))
        for a in p._actions:
            if a.dest in ("out", "cache"):
                assert a.dest in declared, f"{name} {a.option_strings}: not in OUTPUTS"
            elif _path_like(a):
                assert a.dest in declared or a.dest in inputs, f"{name} {a.dest}: unclassified"
        dests = {a.dest for a in p._actions}
        assert set(declared) <= dests, (name, declared)
        assert inputs <= dests, name
        assert set(getattr(mod, "IDENTIFIERS", ())) <= dests, name
        found.update({(name, d): k for d, k in declared.items()})
    writers = {"sample", "generate", "pretrain", "finetune", "report", "fetch-data", "evaluate"}
    assert writers | {"compare", "study", "export-weights"} <= {n for n, _ in found}


def _argv(name: str, p: argparse.ArgumentParser, dest: str, value: str) -> list[str]:
    """A minimal command line of ``name`` with ``dest`` set to ``value``."""
    argv = [name]
    for a in p._actions:
        if a.dest in ("help", dest) or isinstance(a, argparse._SubParsersAction):
            continue
        if not a.option_strings and a.required is not False:
            argv.append(a.choices[0] if a.choices else "x")
        elif a.required:
            argv += [max(a.option_strings, key=len), "x"]
    flag = next((max(a.option_strings, key=len) for a in p._actions if a.dest == dest), None)
    return [*argv, flag, value] if flag else [*argv, value]


def _cases() -> list[tuple[str, str, str]]:
    return [
        (name, dest, kind)
        for name, p in _subparsers().items()
        for dest, kind in getattr(p.get_default("_mod"), "OUTPUTS", {}).items()
    ]


@pytest.mark.parametrize(("name", "dest", "kind"), _cases(), ids=lambda x: str(x))
def test_every_output_goes_through_the_guard(
    name: str, dest: str, kind: str, tmp_path: Path, monkeypatch, capsys
) -> None:
    """The command refuses before it runs: a file where a folder goes, an existing file
    without --overwrite; the guard saw the option (spy), and ``run`` was never called."""
    p = _subparsers()[name]
    seen: list[tuple[str, str]] = []
    real = guard.check_target

    def spy(path, flag, k, overwrite, inputs=()):
        seen.append((flag, k))
        return real(path, flag, k, overwrite, inputs)

    monkeypatch.setattr(guard, "check_target", spy)
    monkeypatch.chdir(tmp_path)
    target = tmp_path / "existing"
    if kind == "file":
        target.write_text("mine")
    else:
        target.write_text("a file where a folder goes")
    mod = p.get_default("_mod")
    monkeypatch.setattr(mod, "run", lambda args: pytest.fail("run() reached"))
    rc = main(_argv(name, p, dest, str(target)))
    err = capsys.readouterr().err
    assert rc == 2, err
    assert seen and seen[0][1] == kind, seen
    assert len(err.strip().splitlines()) == 1 and "existing" in err, err
    assert target.read_text() in ("mine", "a file where a folder goes")
    rc = main(_argv(name, p, dest, ""))
    assert rc == 2 and "empty path" in capsys.readouterr().err


def test_output_equal_to_an_input_is_refused(tmp_path: Path) -> None:
    src = tmp_path / "c.pt"
    src.write_bytes(b"weights")
    link = tmp_path / "link.pt"
    link.symlink_to(src)
    for out in (src, link, tmp_path / "." / "c.pt"):
        with pytest.raises(UserError, match="own input"):
            guard.check_target(out, "--out", "file", True, [("RUN", src)])
    assert src.read_bytes() == b"weights"


def test_run_files_refused_through_a_symlink(tmp_path: Path) -> None:
    run = tmp_path / "run"
    run.mkdir()
    (run / "last.pt").write_bytes(b"ckpt")
    (tmp_path / "x.png").symlink_to(run / "last.pt")
    with pytest.raises(UserError, match="keeps for itself"):
        guard.check_target(tmp_path / "x.png", "--out", "file", True)


@pytest.mark.parametrize(
    "name", ["../x", "a/b", "..", ".hidden", "", " ", "x" * 101, "a\nb", "a b", "-", "é"]
)
def test_identifiers_refused(name: str) -> None:
    with pytest.raises(UserError):
        guard.check_identifier(name, "--plans-name")


@pytest.mark.parametrize("name", ["fdif_unet_small", "nnUNetPlans", "Dataset501_x", "a.b-c+1"])
def test_identifiers_allowed(name: str) -> None:
    assert guard.check_identifier(name, "--plans-name") == name


# ---------------------------------------------------------------- untrusted JSON
@pytest.mark.parametrize(
    ("text", "match"),
    [
        ('{"a": NaN}', "non-finite"),
        ('{"a": Infinity}', "non-finite"),
        ('{"a": -Infinity}', "non-finite"),
        ('{"a": 1e999}', "not finite"),
        ('{"a": ' + "9" * 400 + "}", "400 digits"),
        ("[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1), "nested"),
        ('{"a": [' * 5000, "nested"),
        ("[1, 2]", "JSON object is expected"),
        ('"text"', "JSON object is expected"),
        ("{bad", "not valid JSON"),
        ("", "not valid JSON"),
    ],
)
def test_bad_json_one_line(tmp_path: Path, text: str, match: str) -> None:
    p = tmp_path / "plans.json"
    p.write_text(text)
    with pytest.raises(UntrustedError, match=match) as err:
        read_json(p, "plans file")
    assert "\n" not in str(err.value) and str(p) in str(err.value)


def test_special_files_refused_without_reading(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "fifo")  # opening it would block
    (tmp_path / "zero").symlink_to("/dev/zero")
    for p, match in [
        (tmp_path / "fifo", "FIFO"),
        (tmp_path / "zero", "character device"),
        (Path("/dev/zero"), "character device"),
        (tmp_path, "a folder"),
        (tmp_path / "none", "no such"),
    ]:
        with pytest.raises(UntrustedError, match=match):
            read_json(p, "plans file")


def test_size_cap_streams(tmp_path: Path) -> None:
    p = tmp_path / "big.json"
    with open(p, "wb") as fh:
        fh.truncate(1 << 34)  # 16 GiB sparse: refused by its size, nothing read
    with pytest.raises(UntrustedError, match="at most"):
        read_json(p, "plans file")
    small = tmp_path / "small.json"
    small.write_text(json.dumps({"a": "x" * 2000}))
    with pytest.raises(UntrustedError, match="at most 100 bytes"):
        read_json(small, "plans file", limit=100)


def test_json_lines_skip_torn_and_bad_rows(tmp_path: Path) -> None:
    p = tmp_path / "log.jsonl"
    p.write_text('{"step": 1}\n{"step": NaN}\n[1]\n{"step": 2}\n{"step": 3')
    assert read_json_lines(p, "run log") == [{"step": 1}, {"step": 2}]


def test_good_json_reads(tmp_path: Path) -> None:
    p = tmp_path / "ok.json"
    p.write_text('\ufeff{"spacing": [1.5, 2, 3e-1], "n": -4}')
    assert read_json(p, "x") == {"spacing": [1.5, 2, 0.3], "n": -4}


# ---------------------------------------------------------------- plans allow-list
TOY = Path(__file__).parent / "data" / "nnunet_toy" / "nnUNetResEncUNetLPlans.json"


def test_shipped_toy_plans_allowed() -> None:
    check_plans(json.loads(TOY.read_text()), "toy")


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("network_class_name", "os.system"),
        ("network_class_name", "subprocess.Popen"),
        ("network_class_name", "builtins.eval"),
        ("network_class_name", "dynamic_network_architectures.architectures.unet.os"),
        ("conv_op", "os.system"),
        ("nonlin", "torch.load"),
        ("norm_op", "torch.nn.modules.conv.Conv3d.__init__"),
    ],
)
def test_classes_outside_the_list_refused_before_import(field: str, value: str) -> None:
    arch = json.loads(TOY.read_text())["configurations"]["3d_fullres"]["architecture"]
    if field == "network_class_name":
        arch[field] = value
    else:
        arch["arch_kwargs"][field] = value
    with pytest.raises(UserError, match="refused before import"):
        check_architecture(arch, "plans")


# ---------------------------------------------------------------- third-party warnings
def test_warnings_go_to_the_log_not_the_screen(tmp_path: Path, monkeypatch, capsys) -> None:
    """A refusal after library warnings is one line; the warnings are in the log."""
    log = tmp_path / "fdif.log"
    monkeypatch.setenv("FDIF_LOG", str(log))
    p = _subparsers()["classes"]
    mod = p.get_default("_mod")

    def noisy(args):
        warnings.warn("monai: something is deprecated", FutureWarning, stacklevel=1)
        warnings.warn("timm: notice", UserWarning, stacklevel=1)
        logging.getLogger("monai.transforms").warning("monai log record")
        raise UserError("--preset x: the project's one line")

    monkeypatch.setattr(mod, "run", noisy)
    monkeypatch.setattr(logging.getLogger(), "handlers", [])  # as in a plain fdif-core run
    with warnings.catch_warnings():
        warnings.simplefilter("always")
        rc = main(["classes", "--preset", "x"])
    err = capsys.readouterr().err
    assert rc == 2
    assert err.strip().splitlines() == [
        "fdif-core classes: error: --preset x: the project's one line"
    ]
    text = log.read_text()
    assert "monai: something is deprecated" in text and "timm: notice" in text
    assert "monai log record" in text
