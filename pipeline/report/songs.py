"""The report section on songs of known singers (``evaluate.songs``: the paper's Table 1
setting), its table and its derived sentences."""

from __future__ import annotations

import html

import numpy as np
import pandas as pd

from ..evaluate.songs import MFCC_MODEL, SCENARIO
from .findings import Cell

__all__ = ["PROTOCOL", "songs_findings", "songs_section", "songs_wide"]

PROTOCOL = ("Each song is cut into up to songs.segments_per_track (default 20) windows of "
            "2.97 s spread evenly over it; every model embeds them with its mixed-track "
            "branch (CROSS: its mixed network; with songs.domain mono, a-cappella recordings "
            "go through the mono branch on their voiced windows) and a "
            "song's vector is the mean of its unit window embeddings. Leave-one-out nearest "
            "singer centroid: each song of a singer with two or more songs is a query once, "
            "scored (cosine) against every singer's centroid, its own singer's without it. "
            "Chance is k/S for S singers. MFCC: the mean and standard deviation of 13 MFCCs "
            "of the same windows, standardised over the songs, scored the same way.")

ORDER = ["MONO", "MIXED", "CROSS", MFCC_MODEL, "chance"]


def songs_wide(table: pd.DataFrame) -> pd.DataFrame:
    """model, init, top1, top5 (each "value [lo, hi]"), n: one row per model."""
    rows = table[table["scenario"] == SCENARIO].copy()
    rows["init"] = np.where(rows["pretrained"], "pre-trained", "scratch")
    rows.loc[rows["model"].isin([MFCC_MODEL, "chance"]), "init"] = "–"
    rows["cell"] = [Cell(v, lo, hi).text() for v, lo, hi in
                    zip(rows["value"], rows["ci_low"], rows["ci_high"])]
    wide = rows.pivot_table(index=["model", "init"], columns="metric", values="cell",
                            aggfunc="first", sort=False).reset_index()
    wide["n"] = rows.groupby(["model", "init"], sort=False)["n"].max().to_numpy()
    wide.columns.name = None
    rank = {m: i for i, m in enumerate(ORDER)}
    wide["_m"] = wide["model"].map(rank).fillna(len(rank))
    wide["_i"] = (wide["init"] == "scratch").astype(int)
    return wide.sort_values(["_m", "model", "_i"], kind="stable").drop(columns=["_m", "_i"])


def songs_findings(table: pd.DataFrame, metric: str = "top1") -> list[str]:
    """Best model, the best network against the MFCC baseline, and each against chance."""
    rows = table[(table["scenario"] == SCENARIO) & (table["metric"] == metric)]
    cells = {(m, p): Cell(v, lo, hi) for m, p, v, lo, hi in
             zip(rows["model"], rows["pretrained"], rows["value"], rows["ci_low"],
                 rows["ci_high"])}
    chance = next((c.value for (m, _), c in cells.items() if m == "chance"), np.nan)
    models = {k: c for k, c in cells.items() if k[0] != "chance"}
    if not models:
        return []

    def name(key):
        model, pretrained = key
        return model if model == MFCC_MODEL else f"{model} ({'pre-trained' if pretrained else 'scratch'})"

    best = max(models, key=lambda k: models[k].value)
    out = [f"Best {metric} on the songs: {name(best)}, {models[best].text()}, against chance "
           f"{chance:.2f}."]
    nets = {k: c for k, c in models.items() if k[0] != MFCC_MODEL}
    mfcc = models.get((MFCC_MODEL, False))
    if nets and mfcc is not None:
        top = max(nets, key=lambda k: nets[k].value)
        if not nets[top].has_interval:
            verdict = "no interval was computed"
        elif nets[top].contains(mfcc.value):
            verdict = "within the network's interval"
        else:
            verdict = "outside the network's interval"
        side = ("above" if nets[top].value > mfcc.value else
                "equal to" if nets[top].value == mfcc.value else "below")
        out.append(f"The best network, {name(top)} at {nets[top].value:.2f}, is {side} the "
                   f"MFCC baseline at {mfcc.value:.2f} ({verdict}).")
    near = [name(k) for k, c in models.items() if c.contains(chance)]
    if near:
        out.append("Indistinguishable from chance (interval contains it): "
                   + ", ".join(near) + ".")
    return out


def songs_section(table: pd.DataFrame | None, *, n_songs: int | None = None,
                  n_singers: int | None = None, interval: str = "") -> str:
    """The HTML section, or "" when there is no song evaluation."""
    if table is None or table.empty:
        return ""
    counts = ""
    if n_songs is not None and n_singers is not None:
        counts = f" {n_songs} songs of {n_singers} singers."
    items = "".join(f"<li>{html.escape(s)}</li>" for s in songs_findings(table))
    return ("<h2>Songs of known singers (the paper's Table 1 setting)</h2>"
            f"<p>{html.escape(PROTOCOL)}{html.escape(counts)}</p>"
            + songs_wide(table).to_html(index=False, border=0, na_rep="–", escape=True)
            + f"<ul>{items}</ul><p class='caption'>Brackets: {html.escape(interval)} "
            "(the queries are songs here).</p>")
