"""The paper's orderings of singer-ID accuracy (issue 16), checked on a run's metrics table.

Lee & Nam (2019) find, and the demo should show: CROSS bridges the domains (on Mono2Mix at
least twice MONO and above GMM-UBM), GMM-UBM is near chance across domains (Mono2Mix within
twice chance) but strong on a-cappella (best on Mono2Mono, or inside the best network's
interval), MIXED and CROSS beat MONO on mixes (Mix2Mix), and pre-training helps CROSS in
every scenario.  :func:`orderings` says which of these hold on a metrics table (``evaluate``'s
metrics joined with ``baseline``'s), each demanded with a ``margin`` in accuracy points, so
that a check passes only when its effect is clear of the margin.

>>> rows = [("CROSS", True, "Mono2Mix", .6), ("MONO", True, "Mono2Mix", .2),
...         ("GMM-UBM", False, "Mono2Mix", .15), ("chance", False, "Mono2Mix", .1)]
>>> table = pd.DataFrame(rows, columns=["model", "pretrained", "scenario", "value"])
>>> [c.text() for c in orderings(table.assign(metric="top1"), margin=0.05)]  # doctest: +NORMALIZE_WHITESPACE
['holds: CROSS Mono2Mix >= 2x MONO (0.60 against 0.40, margin 0.05)',
 'holds: CROSS Mono2Mix > GMM-UBM (0.60 against 0.15, margin 0.05)',
 'holds: GMM-UBM Mono2Mix <= 2x chance (0.15 against 0.20, margin 0.05)']
"""

from __future__ import annotations

import dataclasses
import math

import pandas as pd

from ..evaluate.protocol import SCENARIOS
from .findings import cell

__all__ = ["ORDERINGS", "Ordering", "failing", "orderings"]

ORDERINGS = ("CROSS Mono2Mix >= 2x MONO", "CROSS Mono2Mix > GMM-UBM",
             "GMM-UBM Mono2Mix <= 2x chance", "GMM-UBM Mono2Mono best or in the best's interval",
             "MIXED Mix2Mix > MONO", "CROSS Mix2Mix > MONO",
             *(f"pre-training helps CROSS on {s}" for s in SCENARIOS))
"""Every ordering's name, in the order :func:`orderings` lists them."""

_EPS = 1e-9


@dataclasses.dataclass(frozen=True)
class Ordering:
    """One ordering: ``value`` compared with ``bound`` by ``relation``, with a margin.

    relation : ">" | ">=" | "<="
        ``">"``: holds when value - bound > margin; ``">="``: value - bound >= margin;
        ``"<="``: bound - value >= margin.
    """

    name: str
    value: float
    bound: float
    relation: str
    margin: float

    @property
    def gap(self) -> float:
        """How far the ordering is from failing at margin 0 (accuracy points; < 0: fails)."""
        return self.bound - self.value if self.relation == "<=" else self.value - self.bound

    @property
    def holds(self) -> bool:
        # accuracies are fractions k/n: a gap equal to the margin must not fail on rounding
        if self.relation == ">":
            return self.gap > self.margin + _EPS
        return self.gap >= self.margin - _EPS

    def text(self) -> str:
        """``"holds: <name> (<value> against <bound>, margin <m>)"`` (or ``FAILS``)."""
        return (f"{'holds' if self.holds else 'FAILS'}: {self.name} ({self.value:.2f} against "
                f"{self.bound:.2f}, margin {self.margin:.2f})")


def _value(table, model, scenario, metric, pretrained=None) -> float | None:
    c = cell(table, model, scenario, metric, pretrained)
    return None if c is None else c.value


def _best_lower_bound(table, scenario, metric) -> float | None:
    """The lower interval bound of the best network on ``scenario`` (its value without one)."""
    cells = [c for m in ("MONO", "MIXED", "CROSS")
             if (c := cell(table, m, scenario, metric, pretrained=True))]
    if not cells:
        return None
    best = max(cells, key=lambda c: c.value)
    return best.value if math.isnan(best.lo) else best.lo


def orderings(table: pd.DataFrame, *, margin: float = 0.0, metric: str = "top1") -> list[Ordering]:
    """The orderings of :data:`ORDERINGS` that ``table`` has the cells for.

    Parameters
    ----------
    table : pd.DataFrame
        A metrics table (``core.tables.METRICS_TABLE``; ``ci_low``/``ci_high`` optional) with
        the networks (pre-trained, and CROSS from scratch), ``GMM-UBM`` and ``chance`` rows.
    margin : float
        Accuracy points (0-1 scale) each ordering must clear: CROSS >= 2 MONO + margin, GMM-UBM
        <= 2 chance - margin, GMM-UBM >= the best network's interval low + margin, and
        every "above" a strict ``> other + margin``.
    metric : str
        The metric compared (the paper's orderings are on ``top1``).

    Returns
    -------
    list of Ordering
        In :data:`ORDERINGS` order; an ordering whose cells are missing (no scratch CROSS, no
        baseline rows) is left out.
    """
    v = {(m, s): _value(table, m, s, metric, pretrained=True if m in ("MONO", "MIXED", "CROSS")
                        else None)
         for m in ("MONO", "MIXED", "CROSS", "GMM-UBM", "chance") for s in SCENARIOS}
    scratch = {s: _value(table, "CROSS", s, metric, pretrained=False) for s in SCENARIOS}
    best_lo = _best_lower_bound(table, "Mono2Mono", metric)
    candidates = [
        (ORDERINGS[0], v["CROSS", "Mono2Mix"], v["MONO", "Mono2Mix"], 2.0, ">="),
        (ORDERINGS[1], v["CROSS", "Mono2Mix"], v["GMM-UBM", "Mono2Mix"], 1.0, ">"),
        (ORDERINGS[2], v["GMM-UBM", "Mono2Mix"], v["chance", "Mono2Mix"], 2.0, "<="),
        (ORDERINGS[3], v["GMM-UBM", "Mono2Mono"], best_lo, 1.0, ">="),
        (ORDERINGS[4], v["MIXED", "Mix2Mix"], v["MONO", "Mix2Mix"], 1.0, ">"),
        (ORDERINGS[5], v["CROSS", "Mix2Mix"], v["MONO", "Mix2Mix"], 1.0, ">"),
        *((name, v["CROSS", s], scratch[s], 1.0, ">")
          for name, s in zip(ORDERINGS[6:], SCENARIOS)),
    ]
    return [Ordering(name, value, factor * other, relation, margin)
            for name, value, other, factor, relation in candidates
            if value is not None and other is not None]


def failing(checks: list[Ordering]) -> list[str]:
    """Names of the orderings of ``checks`` that do not hold."""
    return [c.name for c in checks if not c.holds]
