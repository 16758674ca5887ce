"""The report's sentences, derived from the metrics table so that none can contradict it.

Each function reads the tidy metrics table (``core.tables.METRICS_TABLE``: value, n, ci_low,
ci_high per model, initialisation, scenario and metric) and returns plain-text sentences.
Two numbers are called different only when one lies outside the other's bootstrap interval;
a score is "indistinguishable from chance" when its interval contains the chance level.
"""

from __future__ import annotations

import dataclasses
import math

import pandas as pd

from ..evaluate.protocol import SCENARIOS

__all__ = ["Cell", "best_sentence", "cell", "chance_sentence", "cross_domain_sentence",
           "findings", "pretraining_sentence"]

BASELINES = ("random", "chance")


@dataclasses.dataclass(frozen=True)
class Cell:
    """One reported number with its interval (NaN bounds: no interval)."""

    value: float
    lo: float = math.nan
    hi: float = math.nan

    def text(self) -> str:
        """``"0.42 [0.31, 0.53]"``, or ``"0.42"`` without an interval."""
        if math.isnan(self.lo) or math.isnan(self.hi):
            return f"{self.value:.2f}"
        return f"{self.value:.2f} [{self.lo:.2f}, {self.hi:.2f}]"

    @property
    def has_interval(self) -> bool:
        return not (math.isnan(self.lo) or math.isnan(self.hi))

    def contains(self, x: float) -> bool:
        """Whether ``x`` is inside the interval (False without one)."""
        return bool(self.lo <= x <= self.hi)


def _main(table: pd.DataFrame) -> pd.DataFrame:
    """Pre-trained rows of models that have them, else their scratch rows; baselines."""
    with_pretrained = set(table.loc[table["pretrained"], "model"])
    return table[table["pretrained"] | ~table["model"].isin(with_pretrained)]


def cell(table: pd.DataFrame, model: str, scenario: str, metric: str = "top1",
         pretrained: bool | None = None) -> Cell | None:
    """The cell of ``model`` (its main row when ``pretrained`` is None), or None."""
    rows = _main(table) if pretrained is None else table[table["pretrained"] == pretrained]
    rows = rows[(rows["model"] == model) & (rows["scenario"] == scenario)
                & (rows["metric"] == metric)]
    if rows.empty:
        return None
    row = rows.iloc[0]
    return Cell(float(row["value"]), float(row.get("ci_low", math.nan)),
                float(row.get("ci_high", math.nan)))


def _models(table: pd.DataFrame) -> list[str]:
    return list(dict.fromkeys(m for m in _main(table)["model"] if m not in BASELINES))


def best_sentence(table: pd.DataFrame, scenario: str, metric: str = "top1") -> str | None:
    """Which model scores highest on ``scenario``, and whether the runner-up is within its
    interval."""
    cells = {m: c for m in _models(table) if (c := cell(table, m, scenario, metric))}
    if not cells:
        return None
    ranked = sorted(cells, key=lambda m: -cells[m].value)
    best = ranked[0]
    text = f"{scenario}: {best} scores highest, {cells[best].text()}"
    if len(ranked) > 1:
        second = ranked[1]
        if cells[second].value == cells[best].value:
            return (f"{scenario}: {best} and {second} tie for the highest score, "
                    f"{cells[best].text()}.")
        text += f"; the next, {second} at {cells[second].value:.2f}, is "
        if not cells[best].has_interval:
            text += "lower (no interval was computed)"
        else:
            where = "inside" if cells[best].contains(cells[second].value) else "outside"
            text += f"{where} that interval"
    return text + "."


def chance_sentence(table: pd.DataFrame, model: str, scenario: str,
                    metric: str = "top1") -> str | None:
    """How ``model`` on ``scenario`` compares with the chance level."""
    c, chance = cell(table, model, scenario, metric), cell(table, "chance", scenario, metric)
    if c is None or chance is None or chance.value <= 0:
        return None
    ratio = c.value / chance.value
    if not c.has_interval:
        verdict = f"{ratio:.1f}x chance (no interval was computed)"
    elif c.contains(chance.value):
        verdict = "indistinguishable from chance (its interval contains it)"
    elif c.hi < chance.value:
        verdict = "below chance"
    else:
        verdict = f"{ratio:.1f}x chance, above it"
    return f"{model} on {scenario}: {c.text()} against chance {chance.value:.2f}, {verdict}."


def cross_domain_sentence(table: pd.DataFrame, model: str = "CROSS", other: str = "MONO",
                          scenario: str = "Mono2Mix", metric: str = "top1") -> str | None:
    """``model`` against ``other`` on a cross-domain scenario, as a ratio with intervals."""
    a, b = cell(table, model, scenario, metric), cell(table, other, scenario, metric)
    if a is None or b is None:
        return None
    if a.value > b.value:
        order = "above"
    elif a.value < b.value:
        order = "below"
    else:
        order = "equal to"
    ratio = f" ({a.value / b.value:.1f}x)" if b.value > 0 else ""
    if not (a.has_interval and b.has_interval):
        overlap = "no interval was computed for " + " and ".join(
            n for n, c in ((model, a), (other, b)) if not c.has_interval)
    elif a.contains(b.value) or b.contains(a.value):
        overlap = "one value is inside the other's interval"
    else:
        overlap = "neither value is inside the other's interval"
    return (f"{scenario}: {model} {a.text()} is {order} {other} {b.text()}{ratio}; "
            f"{overlap}.")


def pretraining_sentence(table: pd.DataFrame, metric: str = "top1") -> str | None:
    """In how many model-scenario cells the pre-trained model beats its scratch twin."""
    rows = table[(table["metric"] == metric) & ~table["model"].isin(BASELINES)]
    wide = rows.pivot_table(index=["model", "scenario"], columns="pretrained", values="value")
    if True not in wide.columns or False not in wide.columns:
        return None
    wide = wide.dropna()
    better = wide[True] > wide[False]
    worse = wide[wide[True] < wide[False]].index.tolist()
    text = (f"Pre-training raises {metric} in {int(better.sum())} of {len(wide)} "
            "model-scenario cells")
    if worse:
        text += "; it lowers it for " + ", ".join(f"{m} {s}" for m, s in worse)
    return text + "."


def findings(table: pd.DataFrame, metric: str = "top1") -> list[str]:
    """Every derived sentence for the report's findings list, in reading order."""
    out = [best_sentence(table, s, metric) for s in SCENARIOS]
    out.append(cross_domain_sentence(table, "CROSS", "MONO", "Mono2Mix", metric))
    out.append(cross_domain_sentence(table, "CROSS", "GMM-UBM", "Mono2Mix", metric))
    out += [chance_sentence(table, "GMM-UBM", s, metric) for s in ("Mono2Mix", "Mix2Mono")]
    out.append(pretraining_sentence(table, metric))
    return [s for s in out if s]
