"""Spread over repeated runs: several metrics tables (one per seed) -> mean, sd, min, max.

A bootstrap interval (``evaluate.intervals``) describes the sampling of query tracks within
one run; this table describes how much the whole pipeline (corpus, split, training) moves
between runs with different seeds.  Both belong next to a reported number.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ..core.errors import PipelineError
from ..core.tables import RUN_SPREAD

__all__ = ["KEYS", "interval_markdown", "read_metrics", "run_spread", "spread_markdown"]

KEYS = ["model", "pretrained", "scenario", "metric"]


def read_metrics(path) -> pd.DataFrame:
    """A metrics table from ``.parquet`` or ``.csv`` (as ``evaluate`` writes both)."""
    path = Path(path)
    if not path.exists():
        raise PipelineError(f"{path}: not found")
    table = pd.read_csv(path) if path.suffix == ".csv" else pd.read_parquet(path)
    missing = [c for c in KEYS + ["value"] if c not in table.columns]
    if missing:
        raise PipelineError(f"{path}: not a metrics table (no column {', '.join(missing)})")
    if table.duplicated(KEYS).any():
        raise PipelineError(f"{path}: several rows per {'/'.join(KEYS)} (an SNR sweep table? "
                            "compare one ratio at a time)")
    return table


def run_spread(tables: list[pd.DataFrame]) -> pd.DataFrame:
    """Mean, sample standard deviation (ddof 1; NaN for one run), min and max of ``value``
    per model, initialisation, scenario and metric over ``tables``.

    ``runs`` counts the tables that have the cell (a cell missing from a run is not
    imputed).  Columns: ``list(core.tables.RUN_SPREAD)``, in first-seen row order.
    """
    if not tables:
        raise PipelineError("run_spread: no metrics tables given")
    frames = [t[KEYS + ["value"]].assign(run=i) for i, t in enumerate(tables)]
    both = pd.concat(frames, ignore_index=True)
    both["pretrained"] = both["pretrained"].astype(bool)
    grouped = both.groupby(KEYS, sort=False)["value"]
    out = grouped.agg(runs="count", mean="mean", std=lambda v: v.std(ddof=1) if len(v) > 1
                      else np.nan, min="min", max="max").reset_index()
    return out[list(RUN_SPREAD)].astype(RUN_SPREAD)


def spread_markdown(spread: pd.DataFrame, metric: str = "top1") -> str:
    """A Markdown table of ``metric``: "mean ± sd (min-max)" per model/init and scenario."""
    rows = spread[spread["metric"] == metric].copy()
    if rows.empty:
        raise PipelineError(f"no rows of metric {metric!r}")
    rows["cell"] = [f"{m:.3f} ± {s:.3f} ({lo:.3f}-{hi:.3f})" if np.isfinite(s) else f"{m:.3f}"
                    for m, s, lo, hi in zip(rows["mean"], rows["std"], rows["min"], rows["max"])]
    runs = int(rows["runs"].max())
    return _wide_markdown(rows, f"{metric}: mean ± sd (min-max) over {runs} runs")


def _wide_markdown(rows: pd.DataFrame, note: str) -> str:
    """Rows with model, pretrained, scenario and a text ``cell`` -> a Markdown table."""
    rows = rows.copy()
    rows["init"] = np.where(rows["pretrained"], "pre-trained", "scratch")
    rows.loc[rows["model"].isin(["random", "chance", "GMM-UBM"]), "init"] = "-"
    wide = rows.pivot_table(index=["model", "init"], columns="scenario", values="cell",
                            aggfunc="first", sort=False)
    scenarios = list(dict.fromkeys(rows["scenario"]))
    lines = [f"| model | init | {' | '.join(scenarios)} |",
             "|---|---|" + "---:|" * len(scenarios)]
    for (model, init), cells in wide.iterrows():
        lines.append(f"| {model} | {init} | "
                     + " | ".join(str(cells.get(s, "")) for s in scenarios) + " |")
    return "\n".join(lines) + f"\n\n{note}.\n"


def interval_markdown(table: pd.DataFrame, metric: str = "top1") -> str:
    """A Markdown table of one run's ``metric``: "value [ci_low, ci_high]" per model/init and
    scenario (the value alone where there is no interval, as for chance)."""
    rows = table[table["metric"] == metric].copy()
    if rows.empty:
        raise PipelineError(f"no rows of metric {metric!r}")
    for column in ("ci_low", "ci_high"):
        if column not in rows:
            rows[column] = np.nan
    rows["cell"] = [f"{v:.3f} [{lo:.3f}, {hi:.3f}]" if np.isfinite(lo) and np.isfinite(hi)
                    else f"{v:.3f}" for v, lo, hi in
                    zip(rows["value"], rows["ci_low"], rows["ci_high"])]
    return _wide_markdown(rows, f"{metric} [bootstrap interval] of one run")
