"""docs/scoring.md's worked example is computed by the code it explains: change either, and this fails."""

import pathlib
import re

from analysis.levels import tally
from analysis.scores import Params, evaluate, rollup, summarize
from analysis.trends import funnel

DOC = pathlib.Path(__file__).parent.parent / "docs" / "scoring.md"

# The default scale (version 1): 4 very satisfied, 3 satisfied, 2 neutral, 1 dissatisfied.
SCALES = {1: [{"value": v, "negative": v <= 2} for v in (4, 3, 2, 1)]}

# One unit in October 2026: votes per level (4, 3, 2, 1) of its six staff.
EXAMPLE = {
    "NV01": (9, 3, 0, 0),
    "NV02": (30, 15, 2, 1),
    "NV03": (150, 80, 15, 5),
    "NV04": (420, 190, 20, 10),
    "NV05": (50, 45, 15, 8),
    "NV06": (250, 50, 8, 2),
}


def example_rows():
    subjects = []
    for code, counts in EXAMPLE.items():
        t = tally({(1, value): n for value, n in zip((4, 3, 2, 1), counts)}, SCALES)
        subjects.append({"id": code, "group": "unit", "tally": t})
    rows = evaluate(subjects, Params())
    return rows, rows[0]["prior"], summarize(rollup(s["tally"] for s in subjects))


def pct(x):
    return f"{100 * x:.1f}%"


def expected_lines():
    rows, prior, unit = example_rows()
    lines = [f"α = {prior['alpha']:.1f}, β = {prior['beta']:.2f}",
             f"prior mean {pct(prior['mean'])}, strength {prior['strength']:.1f}"]
    for r in rows:
        p = r["grade_probabilities"]
        lines.append(
            f"| {r['id']} | {r['n']} | {r['satisfied']} | {pct(r['rate'])} | {pct(r['rate_low'])}–{pct(r['rate_high'])} "
            f"| {r['index']:.1f} | {pct(r['score'])} | {pct(r['score_low'])}–{pct(r['score_high'])} "
            f"| {p['excellent']:.2f} | {p['good']:.2f} | {p['completed']:.2f} | {r['grade']} |")
    lines.append(f"| unit | {unit['n']} | {unit['satisfied']} | {pct(unit['rate'])} "
                 f"| {pct(unit['rate_low'])}–{pct(unit['rate_high'])} | {unit['index']:.1f} |")
    f = funnel(0.9, 1000)
    i = f["n"].index(12)
    lines.append(f"at 12 votes the 95% funnel around 90% runs from {pct(f['lower95'][i])} to {pct(f['upper95'][i])}, "
                 f"at 1,000 votes from {pct(f['lower95'][-1])} to {pct(f['upper95'][-1])}")
    return lines


def test_the_worked_example_in_docs_scoring_md_is_what_the_code_computes():
    text = DOC.read_text(encoding="utf-8")
    for line in expected_lines():
        assert line in text, f"docs/scoring.md lacks or differs from: {line}"


def test_every_parameter_of_the_scores_and_the_scan_is_documented_with_its_default():
    from analysis.anomalies import ScanParams
    text = DOC.read_text(encoding="utf-8")
    for params in (Params(), ScanParams()):
        for name, value in params.as_dict().items():
            if name == "grades":
                continue
            line = next((l for l in text.splitlines() if l.startswith(f"| `{name}` |")), None)
            assert line, f"{name} is missing from docs/scoring.md"
            assert re.search(rf"\| `{re.escape(str(value))}` \|", line), f"{name}'s default {value} is not documented"
