"""compare-runs: spread of metrics tables over runs, against hand-computed values."""

import math

import pandas as pd
import pytest

from pipeline.cli import main
from pipeline.core.errors import PipelineError
from pipeline.core.tables import RUN_SPREAD
from pipeline.evaluate.protocol import tidy
from pipeline.report.runs import run_spread, spread_markdown


def run(values: dict):
    return tidy([{"model": m, "pretrained": m != "chance", "scenario": s, "metric": "top1",
                  "value": v, "n": 10} for (m, s), v in values.items()])


A = run({("CROSS", "Mono2Mix"): 0.2, ("MONO", "Mono2Mix"): 0.1, ("chance", "Mono2Mix"): 0.05})
B = run({("CROSS", "Mono2Mix"): 0.4, ("chance", "Mono2Mix"): 0.05})


def test_spread_matches_hand_computed_values():
    spread = run_spread([A, B]).set_index(["model", "scenario"])
    cross = spread.loc[("CROSS", "Mono2Mix")]
    assert cross["runs"] == 2 and cross["mean"] == pytest.approx(0.3)
    assert cross["std"] == pytest.approx(math.sqrt(0.02))  # sd of {0.2, 0.4}, ddof 1
    assert (cross["min"], cross["max"]) == (0.2, 0.4)
    mono = spread.loc[("MONO", "Mono2Mix")]  # missing from run B: counted, not imputed
    assert mono["runs"] == 1 and mono["mean"] == 0.1 and math.isnan(mono["std"])
    assert spread.loc[("chance", "Mono2Mix"), "std"] == 0.0
    assert list(run_spread([A, B]).columns) == list(RUN_SPREAD)


def test_markdown_and_cli(tmp_path, capsys):
    A.to_parquet(tmp_path / "a.parquet")
    B.to_csv(tmp_path / "b.csv", index=False)
    assert main(["compare-runs", str(tmp_path / "a.parquet"), str(tmp_path / "b.csv"),
                 "--out", str(tmp_path / "spread.parquet")]) == 0
    printed = capsys.readouterr().out
    assert "| CROSS | pre-trained | 0.300 ± 0.141 (0.200-0.400) |" in printed
    assert "over 2 runs" in printed
    back = pd.read_csv(tmp_path / "spread.csv")
    assert back.loc[back["model"] == "CROSS", "mean"].item() == pytest.approx(0.3)
    assert "| MONO | pre-trained | 0.100 |" in spread_markdown(run_spread([A, B]))


def test_one_run_prints_its_values_with_their_intervals(tmp_path, capsys):
    one = A.assign(ci_low=[0.1, 0.0, float("nan")], ci_high=[0.3, 0.25, float("nan")])
    one.to_parquet(tmp_path / "one.parquet")
    assert main(["compare-runs", str(tmp_path / "one.parquet")]) == 0
    printed = capsys.readouterr().out
    assert "| CROSS | pre-trained | 0.200 [0.100, 0.300] |" in printed
    assert "| chance | - | 0.050 |" in printed and "of one run" in printed


def test_bad_tables_are_refused_with_their_name(tmp_path, capsys):
    pd.concat([A, A]).to_parquet(tmp_path / "twice.parquet")
    assert main(["compare-runs", str(tmp_path / "twice.parquet")]) != 0
    assert "twice.parquet: several rows" in capsys.readouterr().err
    pd.DataFrame({"x": [1]}).to_csv(tmp_path / "other.csv", index=False)
    assert main(["compare-runs", str(tmp_path / "other.csv")]) != 0
    assert "other.csv: not a metrics table" in capsys.readouterr().err
    with pytest.raises(PipelineError, match="no metrics tables"):
        run_spread([])
