"""The study's table (means, 95 % intervals, paired tests vs scratch) and learning curves."""

from __future__ import annotations

import csv
import io
import json
from collections import defaultdict
from pathlib import Path
from typing import Any

from ..io.atomic import atomic_path, write_text
from ..presets.study import SCRATCH, StudySpec
from .stats import adjust_bh, mean_ci, paired_test

METRICS = ("dice", "nsd_2mm")
OVERALL = "mean"
CURVE = "curve_mean_dice"  # the learning curve's mean, kept beside the overall metrics


def unit_value(result: dict[str, Any], cls: str, metric: str) -> float | None:
    """One run's value: the foreground mean (``cls="mean"``) or one class's."""
    src = result["mean"] if cls == OVERALL else result["per_class"].get(cls, {})
    v = src.get(metric)
    return None if v is None else float(v)


def curve_mean(result: dict[str, Any]) -> float | None:
    """One run's mean validation Dice over its learning curve (the area under the curve per
    step): higher when a run gets good sooner, the usual benefit of pre-training."""
    vals = [float(v) for v in result.get("curve", {}).values()]
    return sum(vals) / len(vals) if vals else None


def _cell(values: list[float], kind: str) -> dict[str, Any]:
    m, lo, hi = mean_ci(values, kind)
    return {"n": len(values), "mean": m, "lo": lo, "hi": hi}


def _curves(units: list[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    by_step: dict[int, list[float]] = defaultdict(list)
    for r in units:
        for step, v in r.get("curve", {}).items():
            by_step[int(step)].append(float(v))
    return {str(s): _cell(by_step[s], kind) for s in sorted(by_step)}


def summarize_study(spec: StudySpec, results: list[dict[str, Any]]) -> dict[str, Any]:
    """Per regime and arm: every class and metric with its interval, the paired test of the
    overall metrics against scratch (same fold and seed), and the learning curve. Only the
    (fold, seed) pairs that every arm finished are used (an interrupted study)."""
    classes = list(results[0]["per_class"]) if results else []
    arms = list(dict.fromkeys(r["arm"] for r in results))
    out: dict[str, Any] = {"classes": classes, "arms": arms, "ci": spec.ci, "regimes": {},
                           "regime_cases": dict(spec.regimes)}
    for regime in spec.regimes:
        rows: dict[str, Any] = {}
        mine = [r for r in results if r["regime"] == regime]
        keys = set.intersection(*[{(r["fold"], r["seed"]) for r in mine if r["arm"] == a}
                                  for a in arms]) if mine else set()  # fmt: skip
        mine = [r for r in mine if (r["fold"], r["seed"]) in keys]  # the same runs for all arms
        base = {(r["fold"], r["seed"]): r for r in mine if r["arm"] == SCRATCH}
        for arm in arms:
            units = [r for r in mine if r["arm"] == arm]
            if not units:
                continue
            row: dict[str, Any] = {"metrics": {}, "vs_scratch": {}, "curve": _curves(units, "t")}
            for cls in [OVERALL, *classes]:
                for metric in METRICS:
                    vals = [v for r in units if (v := unit_value(r, cls, metric)) is not None]
                    if vals:
                        row["metrics"][f"{cls}/{metric}"] = _cell(vals, spec.ci)
            curve = [v for r in units if (v := curve_mean(r)) is not None]
            if curve:
                row["metrics"][f"{OVERALL}/{CURVE}"] = _cell(curve, spec.ci)
            row["empty"] = sum(int(r.get("empty") or 0) for r in units)
            if arm != SCRATCH:
                row["vs_scratch"] = _vs_scratch(units, base)
            rows[arm] = row
        out["regimes"][regime] = rows
    _adjust(out["regimes"])
    return out


def _vs_scratch(units: list[dict[str, Any]], base: dict[Any, dict[str, Any]]) -> dict[str, Any]:
    """Paired tests against scratch (same fold and seed): final Dice and NSD, curve mean."""
    tests: dict[str, Any] = {}
    values = {m: (lambda r, m=m: unit_value(r, OVERALL, m)) for m in METRICS}
    values["curve"] = curve_mean
    for key, value in values.items():
        pairs = [(value(r), value(b)) for r in units if (b := base.get((r["fold"], r["seed"])))]
        pairs = [(a, b) for a, b in pairs if a is not None and b is not None]
        if pairs:
            a, b = zip(*pairs, strict=True)
            tests[key] = paired_test(list(a), list(b))
    return tests


def _adjust(regimes: dict[str, Any]) -> None:
    """Benjamini-Hochberg q-values of the Wilcoxon tests, over every arm x regime comparison
    of one measure (final Dice, final NSD, curve mean): the study makes several comparisons."""
    for key in (*METRICS, "curve"):
        tests = [t[key] for rows in regimes.values() for row in rows.values()
                 if (t := row["vs_scratch"]).get(key)]  # fmt: skip
        for t, q in zip(tests, adjust_bh([t["wilcoxon_p"] for t in tests]), strict=True):
            t["wilcoxon_q"] = q


def _fmt(c: dict[str, Any] | None) -> str:
    if c is None:
        return "n/a"
    if c["lo"] is None:
        return f"{c['mean']:.3f}"
    return f"{c['mean']:.3f} [{c['lo']:.3f}, {c['hi']:.3f}]"


def _p(v: float | None) -> str:
    return "n/a" if v is None else (f"{v:.3f}" if v >= 0.001 else f"{v:.1e}")


def _diff(test: dict[str, Any] | None, none: str = "n/a") -> str:
    """A paired test's mean difference with its interval."""
    if test is None:
        return none
    return _fmt({"mean": test["diff"], "lo": test["diff_lo"], "hi": test["diff_hi"]})


def _pv(test: dict[str, Any] | None, key: str = "wilcoxon_p", none: str = "n/a") -> str:
    """A paired test's p- or q-value."""
    return none if test is None else _p(test.get(key))


def format_overview(summary: dict[str, Any], spec: StudySpec) -> str:
    """Markdown: one row per regime and arm, the overall numbers only (the README's table)."""
    lines = ["| regime | arm | runs | Dice | NSD 2 mm | curve mean Dice | Δ Dice vs scratch "
             "| Wilcoxon p | q (BH) |", "|---" * 9 + "|"]  # fmt: skip
    for regime, rows in summary["regimes"].items():
        name = f"{regime} ({spec.regimes[regime]} training cases)"
        for arm, row in rows.items():
            m, d = row["metrics"], row["vs_scratch"].get("dice")
            n = m.get(f"{OVERALL}/dice", {}).get("n", 0)
            lines.append(f"| {name} | {arm} | {n} | {_fmt(m.get(f'{OVERALL}/dice'))} "
                         f"| {_fmt(m.get(f'{OVERALL}/nsd_2mm'))} "
                         f"| {_fmt(m.get(f'{OVERALL}/{CURVE}'))} | {_diff(d, '—')} "
                         f"| {_pv(d, none='—')} | {_pv(d, 'wilcoxon_q', '—')} |")  # fmt: skip
    return "\n".join(lines) + "\n"


def format_study(summary: dict[str, Any], spec: StudySpec) -> str:
    """Markdown: the overview, then per regime one table of metrics (every class) and one of
    paired tests vs scratch."""
    classes = summary["classes"]
    lines: list[str] = [f"**Overview** (overall = mean over foreground classes; 95 % "
                        f"{summary['ci']} intervals)", "", format_overview(summary, spec)]
    for regime, rows in summary["regimes"].items():
        n_train = spec.regimes[regime]
        lines += [f"**{regime}** ({n_train} training case(s) per fold; mean over folds x "
                  f"seeds, 95 % {summary['ci']} interval; empty: class predictions that are "
                  "empty though the label has the class, scored 0, over all runs)",
                  ""]  # fmt: skip
        cols = [f"{c} {m}" for c in ["overall", *classes] for m in ("Dice", "NSD 2 mm")]
        cols.append("curve mean Dice")
        lines += ["| arm | n | empty | " + " | ".join(cols) + " |",
                  "|---" * (len(cols) + 3) + "|"]  # fmt: skip
        for arm, row in rows.items():
            cells = [_fmt(row["metrics"].get(f"{c}/{m}")) for c in [OVERALL, *classes]
                     for m in METRICS]  # fmt: skip
            cells.append(_fmt(row["metrics"].get(f"{OVERALL}/{CURVE}")))
            n = row["metrics"].get(f"{OVERALL}/dice", {}).get("n", 0)
            lines.append(f"| {arm} | {n} | {row.get('empty', 0)} | " + " | ".join(cells) + " |")
        lines += ["", "| arm vs scratch | pairs | Δ Dice [95 % CI] | Wilcoxon p | q (BH) "
                  "| paired t p | Δ NSD 2 mm [95 % CI] | Wilcoxon p | Δ curve Dice [95 % CI] "
                  "| Wilcoxon p |", "|---" * 10 + "|"]  # fmt: skip
        for arm, row in rows.items():
            if row["vs_scratch"].get("dice") is not None:
                lines.append(_test_row(arm, row["vs_scratch"]))
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def _test_row(arm: str, tests: dict[str, Any]) -> str:
    d, s, c = tests["dice"], tests.get("nsd_2mm"), tests.get("curve")
    return (f"| {arm} | {d['n']} | {_diff(d)} | {_pv(d)} | {_pv(d, 'wilcoxon_q')} "
            f"| {_pv(d, 'ttest_p')} | {_diff(s)} | {_pv(s)} | {_diff(c)} | {_pv(c)} |")


def study_csv(summary: dict[str, Any]) -> str:
    """Long format: regime, arm, class, metric, n, mean, lo, hi."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["regime", "arm", "class", "metric", "n", "mean", "ci_lo", "ci_hi"])
    for regime, rows in summary["regimes"].items():
        for arm, row in rows.items():
            for key, c in row["metrics"].items():
                cls, metric = key.split("/")
                w.writerow([regime, arm, "overall" if cls == OVERALL else cls, metric, c["n"],
                            f"{c['mean']:.6f}", "" if c["lo"] is None else f"{c['lo']:.6f}",
                            "" if c["hi"] is None else f"{c['hi']:.6f}"])  # fmt: skip
    return buf.getvalue()


def plot_curves(summary: dict[str, Any], path: Path, title: str = "") -> None:
    """Validation Dice against fine-tuning steps, one panel per regime, 95 % t bands."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    regimes = list(summary["regimes"])
    fig, axes = plt.subplots(1, len(regimes), figsize=(5.5 * len(regimes), 4.2), squeeze=False)
    for ax, regime in zip(axes[0], regimes, strict=True):
        for arm, row in summary["regimes"][regime].items():
            pts = [(int(s), c) for s, c in row["curve"].items()]
            if not pts:
                continue
            x = [s for s, _ in pts]
            y = [c["mean"] for _, c in pts]
            (line,) = ax.plot(x, y, marker="o", ms=3, label=arm)
            if all(c["lo"] is not None for _, c in pts):
                ax.fill_between(x, [c["lo"] for _, c in pts], [c["hi"] for _, c in pts],
                                color=line.get_color(), alpha=0.18, lw=0)  # fmt: skip
        n = summary.get("regime_cases", {}).get(regime)
        ax.set_title(f"{regime}: {n} training case(s) per fold" if n else regime)
        ax.set_xlabel("fine-tuning step")
        ax.set_ylabel("validation Dice (foreground mean)")
        ax.set_ylim(0, 1)
        ax.grid(alpha=0.3)
        ax.legend(loc="lower right", fontsize=9)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=110)
    plt.close(fig)


def write_report(
    spec: StudySpec,
    results: list[dict[str, Any]],
    pretrained: dict[str, dict[str, Any]],
    out: Path,
    skipped: list[str],
    time: str = "",
) -> dict[str, Any]:
    """``study.json``, ``study.md``, ``study.csv`` and ``curves.png`` in ``out``; ``time``:
    the run's time line (:func:`.study.time_note`), the table's last line."""
    summary = summarize_study(spec, results)
    summary.update(name=spec.name, pretrain=pretrained, skipped_arms=skipped,
                   folds=len(spec.folds), seeds=list(spec.seeds), time=time)  # fmt: skip
    md = format_study(summary, spec)
    if time:
        md += f"\n{time}\n"
    write_text(out / "study.json", json.dumps(summary, indent=2) + "\n")
    write_text(out / "study.md", md)
    write_text(out / "study.csv", study_csv(summary))
    plot_curves(summary, out / "curves.png", f"{spec.name}: validation Dice while fine-tuning")
    return summary
