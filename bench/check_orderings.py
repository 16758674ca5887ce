"""The paper's orderings of singer-ID top-1 accuracies, checked on a metrics table.

Which of issue 16's orderings hold on a run's evaluation (metrics + baseline tables):

    python bench/check_orderings.py results/evaluation/<version>

On config/test.yaml (4 unseen singers, 16 queries a scenario) most are not resolvable and
several fail (CROSS Mono2Mix 0.625 against GMM-UBM 0.688), and a CROSS model trained with
shuffled singer labels still reaches Mono2Mix 0.562, so no end-to-end test asserts them yet.

Intervals are 95 % Wilson score intervals over the query tracks (n of the metrics table).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd

__all__ = ["check_orderings", "top1", "wilson"]

SCENARIOS = ("Mono2Mono", "Mix2Mix", "Mono2Mix", "Mix2Mono")


def wilson(p: float, n: int, z: float = 1.96) -> tuple[float, float]:
    """95 % Wilson score interval of a proportion ``p`` out of ``n``."""
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return centre - half, centre + half


def top1(table: pd.DataFrame) -> pd.DataFrame:
    """Top-1 accuracy (value, n) indexed by (model label, scenario); labels as the README's:
    ``CROSS``, ``CROSS (scratch)``, ``GMM-UBM``, ``chance``."""
    rows = table[table["metric"] == "top1"].copy()
    scratch = ~rows["pretrained"] & rows["model"].isin(["MONO", "MIXED", "CROSS"])
    rows["label"] = rows["model"].where(~scratch, rows["model"] + " (scratch)")
    return rows.set_index(["label", "scenario"])[["value", "n"]]


def check_orderings(table: pd.DataFrame, *, margin: float = 0.0) -> dict[str, bool]:
    """Which of the issue's orderings hold (top-1, pre-trained networks unless "scratch").

    ``margin`` (accuracy points) is demanded on top of every strict comparison, so a check
    passes only when the effect is clear of it.
    """
    t = top1(table)

    def v(label, scenario):
        return float(t.loc[(label, scenario), "value"])

    chance = v("chance", "Mono2Mix")
    best_m2m = max(v(m, "Mono2Mono") for m in ("MONO", "MIXED", "CROSS"))
    n_best = int(t.loc[("CROSS", "Mono2Mono"), "n"])
    return {
        "CROSS Mono2Mix >= 2x MONO": v("CROSS", "Mono2Mix") >= 2 * v("MONO", "Mono2Mix") + margin,
        "CROSS Mono2Mix > GMM-UBM": v("CROSS", "Mono2Mix") > v("GMM-UBM", "Mono2Mix") + margin,
        "CROSS Mono2Mix > 2x chance": v("CROSS", "Mono2Mix") > 2 * chance + margin,
        "GMM-UBM Mono2Mix <= 2x chance": v("GMM-UBM", "Mono2Mix") <= 2 * chance,
        "GMM-UBM best on Mono2Mono (or in the best's interval)":
            v("GMM-UBM", "Mono2Mono") >= wilson(best_m2m, n_best)[0],
        "MIXED > MONO on Mix2Mix": v("MIXED", "Mix2Mix") > v("MONO", "Mix2Mix") + margin,
        "CROSS > MONO on Mix2Mix": v("CROSS", "Mix2Mix") > v("MONO", "Mix2Mix") + margin,
        **{f"pre-training helps CROSS on {s}": v("CROSS", s) > v("CROSS (scratch)", s)
           for s in SCENARIOS},
    }


def _main(folder: str) -> int:
    folder = Path(folder)
    table = pd.concat([pd.read_parquet(folder / "metrics.parquet"),
                       pd.read_parquet(folder / "baseline.parquet")], ignore_index=True)
    t = top1(table)["value"].unstack("scenario")[list(SCENARIOS)]
    print(t.round(3).to_markdown())
    for name, ok in check_orderings(table).items():
        print(f"{'holds' if ok else 'FAILS'}: {name}")
    return 0


if __name__ == "__main__":
    raise SystemExit(_main(sys.argv[1]))
