"""The evaluation report: one self-contained HTML file (figures embedded as base64 PNG).

:func:`write_figures` draws every figure from the metrics tables; :func:`render_html`
assembles them with the tables, the dataset card summary and our metric definitions;
:func:`write_report` does both and writes the files atomically.
"""

from __future__ import annotations

import base64
import html
from pathlib import Path

import numpy as np
import pandas as pd

from ..core.atomic import write_text
from ..evaluate.intervals import Bootstrap
from ..evaluate.metrics import METRICS, RANKING
from . import figures, findings, orderings

__all__ = ["CSS", "DEFINITIONS_TEMPLATE", "INTERVAL", "PAPER_TABLE_1", "accounting_section",
           "card_section", "definitions", "findings_section", "metric_table", "metric_tables",
           "orderings_section", "render_html", "snr_wide", "write_figures", "write_report"]

INTERVAL = Bootstrap().describe()  # the default evaluate section's intervals

PAPER_TABLE_1 = pd.DataFrame(  # Lee & Nam 2019, Table 1: MSD-Singer, 500 unseen artists
    {"model": ["MIXED", "CROSS", "POP", "Random"],
     "top1": [0.291, 0.282, 0.393, 0.002], "top5": [0.511, 0.491, 0.664, 0.01]})

DEFINITIONS_TEMPLATE = """
<ul>
<li><b>Protocol.</b> Unseen singers only. Each singer has model tracks (<code>test_model</code>)
and query tracks (<code>test_query</code>); a track vector is the mean of the embeddings of its
first (by window index) segments, up to the configured number, taken from the rows with
<code>mix_index = 0</code> so that both domains see the same windows. A singer model is the mean
of the singer's model-track vectors. Similarity is cosine (GMM-UBM: average per-frame
log-likelihood ratio against the UBM).</li>
<li><b>Scenarios.</b> <i>Source</i>2<i>Target</i>: queries in the source domain (and through the
source network for CROSS), singer models and database in the target domain.</li>
{metric_items}<li><b>Chance levels</b> are exact expectations under a uniformly random ranking: top-k = k/S
(S singer models), P@5 = R/N, R@5 = 5/N and E[AP] = (1/N) &sum;<sub>r</sub> (1 + (r&minus;1)(R&minus;1)/(N&minus;1))/r
(R relevant in N). The <b>random baseline</b> scores seeded Gaussian random track vectors.</li>
<li><b>GMM-UBM.</b> 13 MFCCs per frame (orthonormal DCT-II of the stored log-mel frame, c0 kept),
a diagonal UBM per target domain fitted on training-singer frames, singer and track models by
MAP adaptation of the means (&alpha; = n/(n+r)), scored by the average per-frame
log-likelihood ratio.</li>
<li><b>Not reproduced from the authors' release:</b> it skips the first query segment of
each track, divides recall@5 by a hard-coded 8, reports as "mAP" something that is not average
precision, and passes monophonic queries through the mixed network in the cross-domain test.
None of this is done here.</li>
</ul>
"""


def definitions() -> str:
    """The report's definitions list, its metric entries rendered from ``metrics.METRICS``."""
    items = [f"<li><b>Ranking and ties.</b> {html.escape(RANKING)}</li>"]
    items += [f"<li><b>{html.escape(m.label[0].upper() + m.label[1:])}</b> "
              f"(<code>{html.escape(m.name)}</code>). {html.escape(m.definition)}</li>"
              for m in METRICS.values()]
    items.append("<li>Queries whose singer has no database track are left out of recall and "
                 "mAP (the <code>n</code> column counts the queries averaged).</li>")
    return DEFINITIONS_TEMPLATE.replace("{metric_items}", "\n".join(items) + "\n")

CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Helvetica,Arial,sans-serif;margin:2em auto;
max-width:1150px;padding:0 1em;color:#222;line-height:1.45}
h1{font-size:1.6em;border-bottom:2px solid #444}h2{font-size:1.25em;margin-top:2em;
border-bottom:1px solid #ccc}
table{border-collapse:collapse;font-size:0.85em;margin:0.6em 0}
th,td{border:1px solid #ccc;padding:3px 8px;text-align:right;white-space:nowrap}
.tables{display:flex;flex-wrap:wrap;gap:0 2em}h4{margin:0.8em 0 0.2em}th{background:#f2f2f2}
td:first-child,th:first-child{text-align:left}
img{max-width:100%;height:auto;border:1px solid #eee}
.note{background:#fff7e0;border-left:4px solid #e0a800;padding:0.5em 1em;font-size:0.9em}
.caption{font-size:0.85em;color:#555}
code{background:#f4f4f4;padding:0 3px}
"""


def write_figures(out_dir, *, metrics: pd.DataFrame, snr: pd.DataFrame | None = None,
                  tsne: pd.DataFrame | None = None) -> dict:
    """Draw every available figure into ``out_dir``: ``{name: {"png": path, "svg": path}}``."""
    out_dir = Path(out_dir)
    made = {
        "identification": figures.save_figure(figures.plot_identification(metrics),
                                               out_dir / "fig3_identification"),
        "retrieval": figures.save_figure(figures.plot_retrieval(metrics),
                                         out_dir / "fig4_retrieval"),
        "pretraining": figures.save_figure(figures.plot_pretraining_gain(metrics),
                                           out_dir / "fig5_pretraining"),
    }
    if snr is not None and not snr.empty:
        made["snr"] = figures.save_figure(figures.plot_snr(snr), out_dir / "fig6_snr")
    if tsne is not None and not tsne.empty:
        made["tsne"] = figures.save_figure(figures.plot_tsne(tsne), out_dir / "fig7_tsne")
    return made


def _img(path) -> str:
    data = base64.b64encode(Path(path).read_bytes()).decode("ascii")
    return f'<img alt="{html.escape(Path(path).stem)}" src="data:image/png;base64,{data}">'


def _table(df: pd.DataFrame, *, digits: int = 3) -> str:
    return df.to_html(index=False, border=0, na_rep="–", escape=True,
                      float_format=lambda v: f"{v:.{digits}f}")


def _with_interval(row) -> str:
    lo, hi = row.get("ci_low", np.nan), row.get("ci_high", np.nan)
    if not np.isfinite(row["value"]):
        return "–"
    if np.isfinite(lo) and np.isfinite(hi):
        return f"{row['value']:.3f} [{lo:.3f}, {hi:.3f}]"
    return f"{row['value']:.3f}"


def metric_table(metrics: pd.DataFrame, metric: str, *, with_ci: bool = False) -> pd.DataFrame:
    """Wide table of one metric: a row per (model, init), a column per scenario, then n.

    With ``with_ci`` each cell is the text "value [ci_low, ci_high]" (the bootstrap interval;
    the value alone where there is none, as for chance).
    """
    rows = metrics[metrics["metric"] == metric].copy()
    rows["init"] = np.where(rows["pretrained"], "pre-trained", "scratch")
    rows.loc[rows["model"].isin(["random", "chance", "GMM-UBM"]), "init"] = "–"
    scenarios = figures.ordered(rows["scenario"], figures.SCENARIO_ORDER)
    if with_ci:
        rows["cell"] = rows.apply(_with_interval, axis=1)
        wide = rows.pivot_table(index=["model", "init"], columns="scenario", values="cell",
                                aggfunc="first", sort=False).reindex(columns=scenarios)
    else:
        wide = rows.pivot_table(index=["model", "init"], columns="scenario", values="value",
                                sort=False).reindex(columns=scenarios)
    wide["n"] = rows.groupby(["model", "init"], sort=False)["n"].max()
    wide = wide.reset_index()
    wide.columns.name = None
    model_rank = {m: i for i, m in enumerate(figures.MODEL_ORDER + ["chance"])}
    wide["_m"] = wide["model"].map(model_rank).fillna(len(model_rank))
    wide["_i"] = (wide["init"] == "scratch").astype(int)
    return wide.sort_values(["_m", "model", "_i"], kind="stable").drop(columns=["_m", "_i"])


def metric_tables(metrics: pd.DataFrame, names) -> str:
    """One small table per metric, side by side."""
    cells = [f"<div><h4>{html.escape(figures.METRIC_LABELS.get(m, m))}</h4>"
             f"{_table(metric_table(metrics, m, with_ci=True))}</div>" for m in names
             if (metrics["metric"] == m).any()]
    return f"<div class='tables'>{''.join(cells)}</div>"


def snr_wide(snr: pd.DataFrame) -> pd.DataFrame:
    """Top-1/top-5 per model, scenario and metric (rows) against SNR (columns)."""
    main = figures.main_rows(snr)
    wide = main[main["metric"].isin(["top1", "top5"])].pivot_table(
        index=["model", "scenario", "metric"], columns="snr_db", values="value").reset_index()
    wide.columns = [c if isinstance(c, str) else f"{c:g} dB" for c in wide.columns]
    model_rank = {m: i for i, m in enumerate(figures.MODEL_ORDER + ["chance"])}
    scenario_rank = {s: i for i, s in enumerate(figures.SCENARIO_ORDER)}
    key = (wide["model"].map(model_rank).fillna(99) * 1000
           + wide["scenario"].map(scenario_rank).fillna(99) * 10 + (wide["metric"] == "top5"))
    return wide.iloc[np.argsort(key.to_numpy(), kind="stable")]


def _sorted_gains(gains: pd.DataFrame, metrics: pd.DataFrame | None = None) -> pd.DataFrame:
    """The gains table in report order; with ``metrics`` the two sides carry their
    bootstrap intervals (the difference itself has none: the tables keep no per-query
    values to resample it)."""
    if metrics is not None and {"ci_low", "ci_high"} <= set(metrics.columns):
        top1 = metrics[metrics["metric"] == "top1"].copy()
        top1["text"] = top1.apply(_with_interval, axis=1)
        text = top1.set_index(["model", "scenario", "pretrained"])["text"]
        gains = gains.copy()
        for column, flag in (("scratch", False), ("pretrained", True)):
            gains[column] = [text.get((m, sc, flag), f"{v:.3f}") for m, sc, v in
                             zip(gains["model"], gains["scenario"], gains[column])]
    model_rank = {m: i for i, m in enumerate(figures.MODEL_ORDER)}
    scenario_rank = {s: i for i, s in enumerate(figures.SCENARIO_ORDER)}
    order = gains["model"].map(model_rank).fillna(99) * 100 + gains["scenario"].map(
        scenario_rank).fillna(99)
    out = gains.iloc[np.argsort(order.to_numpy(), kind="stable")].copy()
    out["gain_pct"] = out["gain_pct"].map(lambda v: f"{v:+.1f}%" if np.isfinite(v) else "–")
    return out[["model", "scenario", "scratch", "pretrained", "gain", "gain_pct"]]


def _flat(prefix: str, value, out: list) -> None:
    if isinstance(value, dict):
        for key, item in value.items():
            _flat(f"{prefix}.{key}" if prefix else str(key), item, out)
    elif isinstance(value, (list, tuple)) and len(value) > 12:
        out.append((prefix, f"[{len(value)} values]"))
    else:
        out.append((prefix, value if not isinstance(value, float) else round(value, 4)))


def card_section(card: dict | None, index: pd.DataFrame | None) -> str:
    """Dataset card summary: version, counts, coverage, normalisation, SNR distribution."""
    if not card and index is None:
        return "<p>No dataset card was given.</p>"
    parts = []
    card = card or {}
    head = ""
    if "version" in card:
        head = f"<p>Dataset version <code>{html.escape(str(card['version']))}</code>.</p>"
    if isinstance(card.get("coverage"), list) and card["coverage"]:
        coverage = pd.DataFrame(card["coverage"])
        parts.append("<div><h3>Coverage of the mashability join</h3>"
                     f"{_table(coverage)}</div>")
    if isinstance(card.get("counts"), dict) and all(isinstance(v, dict) for v in card["counts"].values()):
        counts = pd.DataFrame(card["counts"]).T.rename_axis("subset").reset_index()
        parts.append(f"<div><h3>Counts</h3>{_table(counts)}</div>")
    for key, title in (("counts", "Counts"), ("coverage", "Coverage of the mashability join"),
                       ("normalisation", "Input normalisation")):
        if key in card and not (key == "coverage" and isinstance(card[key], list)) \
                and not (key == "counts" and all(isinstance(v, dict) for v in card[key].values())):
            items: list = []
            _flat("", card[key], items)
            parts.append(f"<div><h3>{title}</h3>"
                         f"{_table(pd.DataFrame(items, columns=['key', 'value']))}</div>")
    if index is not None and "snr_db" in index.columns and len(index):
        snr = index.groupby("subset")["snr_db"].describe(percentiles=[0.05, 0.5, 0.95])
        snr["count"] = snr["count"].astype(int)
        parts.append("<div><h3>Vocal-to-accompaniment ratio of the mixes (dB)</h3>"
                     + _table(snr.reset_index(), digits=2) + "</div>")
    rest = sorted(set(card) - {"version", "counts", "coverage", "normalisation", "shards"})
    if rest:
        items = []
        for key in rest:
            _flat(key, card[key], items)
        other = ("<details><summary>Every other card field (parameters, mel settings, "
                 "library versions)</summary>"
                 + _table(pd.DataFrame(items, columns=["key", "value"]).astype(str))
                 + "</details>")
    else:
        other = ""
    return head + "<div class='tables'>" + "\n".join(parts) + "</div>" + other


def accounting_section(accounting: pd.DataFrame | None) -> str:
    """Inputs used and skipped, per corpus; skipped inputs by stage and reason."""
    if accounting is None or accounting.empty:
        return ""
    status = accounting.groupby(["corpus", "status"]).size().unstack(fill_value=0).reset_index()
    status.columns.name = None
    parts = ["<h3>Inputs used and skipped</h3>", _table(status)]
    skipped = accounting[accounting["status"] != "used"]
    if not skipped.empty:
        reasons = skipped.groupby(["corpus", "stage", "reason"], dropna=False).size()
        parts.append(_table(reasons.rename("inputs").reset_index()))
    return "\n".join(parts)


def findings_section(metrics: pd.DataFrame, interval: str) -> str:
    """The derived sentences (``findings.findings``) as a list, with what the brackets are."""
    items = "".join(f"<li>{html.escape(s)}</li>" for s in findings.findings(metrics))
    return (f"<ul>{items}</ul><p class='caption'>Brackets: {html.escape(interval)}. These "
            "sentences are computed from the table above, not written by hand.</p>")


def orderings_section(metrics: pd.DataFrame) -> str:
    """The paper's orderings (``orderings.orderings``, margin 0) as a list, or ``""`` when
    the table has the cells of none of them."""
    checks = orderings.orderings(metrics)
    if not checks:
        return ""
    items = "".join(f"<li>{html.escape(c.text())}</li>" for c in checks)
    return ("<h3>The paper's orderings</h3>"
            f"<ul>{items}</ul><p class='caption'>What Lee &amp; Nam (2019) found, checked on "
            "the top-1 values above (pre-trained networks; GMM-UBM's Mono2Mono against the "
            "lower interval bound of the best network). An ordering whose cells this run "
            "lacks is left out.</p>")


def render_html(*, metrics: pd.DataFrame, figure_paths: dict, snr: pd.DataFrame | None = None,
                card: dict | None = None, index: pd.DataFrame | None = None,
                accounting: pd.DataFrame | None = None,
                title: str = "DAMP-Mash evaluation", interval: str = INTERVAL,
                extra_sections: tuple = ()) -> str:
    """The report as one HTML string; ``figure_paths`` as returned by :func:`write_figures`.

    ``interval`` says what the bracketed intervals are (``Bootstrap.describe()``);
    ``extra_sections`` are HTML fragments placed before the dataset section.
    """
    def figure(name, caption):
        if name not in figure_paths:
            return f"<p class='caption'>({html.escape(caption)}: not computed.)</p>"
        return f"<figure>{_img(figure_paths[name]['png'])}<figcaption class='caption'>" \
               f"{caption}</figcaption></figure>"

    gains = figures.pretraining_gain(metrics)
    body = [
        f"<h1>{html.escape(title)}</h1>",
        "<p>Reproduction of Lee &amp; Nam, ISMIR 2019, on this pipeline's dataset. All numbers "
        "below are ours unless marked as the paper's.</p>",
        "<h2>Summary: singer identification, top-1 accuracy</h2>",
        _table(metric_table(metrics, "top1", with_ci=True)),
        "<p class='caption'>Unseen singers; each query track against every singer model; "
        f"brackets: {html.escape(interval)}. "
        "Chance and a seeded random-embedding baseline are the last rows. Details, figures, "
        "the dataset and our metric definitions follow.</p>",
        "<h2>What the numbers say</h2>", findings_section(metrics, interval),
        orderings_section(metrics),
        "<h2>Singer identification (Figure 3)</h2>",
        figure("identification", "Top-1 (solid, value written) and top-5 (hatched) accuracy; "
               "black error bars: the top-1 interval; grey lines: chance (solid top-1, "
               "dashed top-5)."),
        metric_tables(metrics, ["top5"]),
        "<p class='caption'>GMM-UBM uses the UBM and adapted models of the target domain (the "
        "paper omits it in the cross-domain scenarios). "
        + html.escape(" ".join(s for s in (findings.chance_sentence(metrics, "GMM-UBM", sc)
                                           for sc in ("Mono2Mix", "Mix2Mono")) if s))
        + "</p>",
        "<h2>Query-by-singer (Figure 4)</h2>",
        figure("retrieval", "Precision@5, recall@5 and mAP; error bars: intervals; grey "
               "lines: chance."),
        metric_tables(metrics, ["p@5", "r@5", "map"]),
        "<h2>Pre-training (Figure 5)</h2>",
        figure("pretraining", "Top-1 accuracy of the pre-trained model minus the same model "
               "trained from scratch; the table gives each side with its interval (the "
               "difference has none)."),
        _table(_sorted_gains(gains, metrics)) if not gains.empty else "",
        "<h2>Robustness to SNR (Figure 6)</h2>",
        figure("snr", "Top-1 (solid, shaded band: its interval) and top-5 (dotted) accuracy "
               "on test mixes regenerated at each vocal-to-accompaniment ratio; grey: chance."),
    ]
    if snr is not None and not snr.empty:
        wide = snr_wide(snr)
        body.append(_table(wide))
    body += [
        "<h2>Embedding space (Figure 7)</h2>",
        figure("tsne", "t-SNE (cosine, seeded) of track vectors of unseen singers. Highlighted "
               "singers take a pair of the 'Paired' palette: the lighter shade for a-cappella "
               "tracks, the darker for mixed; marker shapes repeat the six pairs; other singers "
               "grey. Both columns of a row share one map."),
        *extra_sections,
        "<h2>Dataset</h2>", card_section(card, index), accounting_section(accounting),
        "<h2>Metric definitions</h2>", definitions(),
        "<h2>Published results (another dataset)</h2>",
        "<div class='note'><b>From the paper, not from this pipeline:</b> Lee &amp; Nam 2019, "
        "Table 1, singer identification on MSD-Singer (popular music recordings, 500 unseen "
        "artists, 15 model and 5 query tracks each). It is a different dataset and task size, "
        "so these numbers are not comparable to ours; they are shown for orientation only. "
        "The paper gives its DAMP-Mash results (Figures 3-6) only as plots.</div>",
        _table(PAPER_TABLE_1),
    ]
    return ("<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
            f"<title>{html.escape(title)}</title><style>{CSS}</style></head><body>\n"
            + "\n".join(body) + "\n</body></html>\n")


def write_report(out_html, *, metrics: pd.DataFrame, figures_dir, snr=None, tsne=None,
                 card=None, index=None, accounting=None,
                 title: str = "DAMP-Mash evaluation", interval: str = INTERVAL,
                 extra_sections: tuple = ()) -> dict:
    """Write the figures into ``figures_dir`` and the report to ``out_html``; return figures."""
    made = write_figures(figures_dir, metrics=metrics, snr=snr, tsne=tsne)
    write_text(out_html, render_html(metrics=metrics, figure_paths=made, snr=snr, card=card,
                                     index=index, accounting=accounting, title=title,
                                     interval=interval, extra_sections=extra_sections))
    return made
