"""pipeline.report.orderings on hand-made metrics tables: each ordering holds on numbers that
show it, fails when its own numbers flip, and the margin decides borderline cases."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pipeline.report.orderings import ORDERINGS, failing, orderings

ROOT = Path(__file__).resolve().parent.parent
SCENARIOS = ("Mono2Mono", "Mix2Mix", "Mono2Mix", "Mix2Mono")
# top-1 per (model, pretrained): Mono2Mono, Mix2Mix, Mono2Mix, Mix2Mono; every ordering holds
PAPER_LIKE = {
    ("MONO", True): (0.70, 0.20, 0.20, 0.15),
    ("MIXED", True): (0.40, 0.45, 0.25, 0.20),
    ("CROSS", True): (0.75, 0.45, 0.60, 0.40),
    ("CROSS", False): (0.25, 0.15, 0.10, 0.10),
    ("GMM-UBM", False): (0.80, 0.40, 0.15, 0.08),
    ("chance", False): (0.10, 0.10, 0.10, 0.10),
}


def table(cells=PAPER_LIKE, half_width=0.08) -> pd.DataFrame:
    """A metrics table of ``cells`` (top1 rows, intervals +-half_width; none for chance)."""
    rows = []
    for (model, pretrained), values in cells.items():
        for scenario, value in zip(SCENARIOS, values):
            hw = np.nan if model == "chance" else half_width
            rows.append({"model": model, "pretrained": pretrained, "scenario": scenario,
                         "metric": "top1", "value": value, "n": 40, "ci_low": value - hw,
                         "ci_high": value + hw})
            # another metric, to check that only top1 is read
            rows.append({**rows[-1], "metric": "top5", "value": 1 - value})
    return pd.DataFrame(rows)


def with_cell(model, pretrained, scenario, value):
    cells = {k: list(v) for k, v in PAPER_LIKE.items()}
    cells[model, pretrained][SCENARIOS.index(scenario)] = value
    return table(cells)


def test_every_ordering_holds_on_paper_like_numbers():
    checks = orderings(table(), margin=0.05)
    assert [c.name for c in checks] == list(ORDERINGS)
    assert failing(checks) == []


@pytest.mark.parametrize("model, pretrained, scenario, value, broken", [
    ("CROSS", True, "Mono2Mix", 0.39, ["CROSS Mono2Mix >= 2x MONO"]),  # 2x MONO is 0.40
    ("MONO", True, "Mono2Mix", 0.31, ["CROSS Mono2Mix >= 2x MONO"]),
    ("GMM-UBM", False, "Mono2Mix", 0.61, ["CROSS Mono2Mix > GMM-UBM",
                                          "GMM-UBM Mono2Mix <= 2x chance"]),
    ("GMM-UBM", False, "Mono2Mix", 0.21, ["GMM-UBM Mono2Mix <= 2x chance"]),
    # the best network's interval is CROSS's 0.75 +- 0.08: 0.66 is below it
    ("GMM-UBM", False, "Mono2Mono", 0.66, ["GMM-UBM Mono2Mono best or in the best's interval"]),
    ("MONO", True, "Mix2Mix", 0.46, ["MIXED Mix2Mix > MONO", "CROSS Mix2Mix > MONO"]),
    ("MIXED", True, "Mix2Mix", 0.20, ["MIXED Mix2Mix > MONO"]),
    ("CROSS", True, "Mix2Mix", 0.19, ["CROSS Mix2Mix > MONO"]),
    *(("CROSS", False, s, PAPER_LIKE["CROSS", True][i], [f"pre-training helps CROSS on {s}"])
      for i, s in enumerate(SCENARIOS)),
])
def test_an_ordering_fails_when_its_numbers_flip(model, pretrained, scenario, value, broken):
    assert failing(orderings(with_cell(model, pretrained, scenario, value))) == broken


def test_gmm_ubm_inside_the_best_networks_interval_holds():
    # GMM-UBM 0.70 is below CROSS 0.75 but inside its interval [0.67, 0.83]
    t = with_cell("GMM-UBM", False, "Mono2Mono", 0.70)
    (check,) = [c for c in orderings(t) if c.name.startswith("GMM-UBM Mono2Mono")]
    assert check.holds and check.bound == pytest.approx(0.67)
    # without intervals the best network's value itself is the bound
    t = t.assign(ci_low=np.nan, ci_high=np.nan)
    assert not [c for c in orderings(t) if c.name.startswith("GMM-UBM Mono2Mono")][0].holds


def test_the_margin_decides_borderline_orderings():
    # CROSS 0.60 against 2x MONO 0.40: a gap of 0.20
    t = with_cell("MONO", True, "Mono2Mix", 0.20)
    name = "CROSS Mono2Mix >= 2x MONO"
    assert name not in failing(orderings(t, margin=0.20))
    assert name in failing(orderings(t, margin=0.21))
    # strict "above": equal numbers fail at margin 0
    t = with_cell("CROSS", False, "Mix2Mono", 0.40)
    assert failing(orderings(t)) == ["pre-training helps CROSS on Mix2Mono"]
    # GMM-UBM 0.15 against 2x chance 0.20: holds up to a margin of 0.05
    assert "GMM-UBM Mono2Mix <= 2x chance" not in failing(orderings(table(), margin=0.05))
    assert "GMM-UBM Mono2Mix <= 2x chance" in failing(orderings(table(), margin=0.06))


def test_orderings_without_their_cells_are_left_out():
    t = table()
    no_scratch = t[t["pretrained"] | (t["model"] != "CROSS")]
    names = [c.name for c in orderings(no_scratch)]
    assert names == [n for n in ORDERINGS if not n.startswith("pre-training")]
    no_baseline = t[t["model"] != "GMM-UBM"]
    assert [c.name for c in orderings(no_baseline)] == [
        n for n in ORDERINGS if "GMM-UBM" not in n]


def test_the_cli_prints_each_ordering_and_require_sets_the_exit_status(tmp_path):
    t = with_cell("CROSS", True, "Mono2Mix", 0.39)
    t[t["model"] != "GMM-UBM"].to_parquet(tmp_path / "metrics.parquet")
    t[t["model"] == "GMM-UBM"].to_csv(tmp_path / "baseline.csv", index=False)
    spec = f"{tmp_path / 'metrics.parquet'}+{tmp_path / 'baseline.csv'}"
    cmd = [sys.executable, "-m", "pipeline", "orderings", spec, "--margin", "0.05"]
    done = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    lines = [line for line in done.stdout.splitlines() if line.startswith(("holds", "FAILS"))]
    assert len(lines) == len(ORDERINGS)
    assert "FAILS: CROSS Mono2Mix >= 2x MONO (0.39 against 0.40, margin 0.05)" in lines
    assert "| CROSS" in done.stdout  # the top-1 table with intervals
    assert subprocess.run(cmd + ["--require"], capture_output=True, cwd=ROOT).returncode == 1
    t = table()
    t.to_parquet(tmp_path / "all.parquet")
    ok = [sys.executable, "-m", "pipeline", "orderings", str(tmp_path / "all.parquet"),
          "--require"]
    assert subprocess.run(ok, capture_output=True, cwd=ROOT).returncode == 0
