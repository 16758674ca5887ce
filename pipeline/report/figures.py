"""Figures of the evaluation (paper Figures 3-7) from the tidy metrics tables.

Each ``plot_*`` function takes a table and returns a matplotlib Figure (Agg backend);
:func:`save_figure` writes it as PNG and SVG, atomically and byte-for-byte reproducibly.
Chance levels are drawn as grey lines over each group of bars; the random-embedding
baseline is drawn as a bar beside the models.
"""

from __future__ import annotations

import io
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from ..core.atomic import write_bytes  # noqa: E402
from ..evaluate.metrics import METRICS  # noqa: E402
from ..evaluate.protocol import SCENARIOS  # noqa: E402

__all__ = ["METRIC_LABELS", "MODEL_COLOURS", "MODEL_ORDER", "SCENARIO_ORDER", "main_rows",
           "ordered", "paired_styles", "plot_identification", "plot_pretraining_gain",
           "plot_retrieval", "plot_snr", "plot_tsne", "pretraining_gain", "save_figure"]

MODEL_ORDER = ["MONO", "MIXED", "CROSS", "GMM-UBM", "random"]
MODEL_COLOURS = {"MONO": "#4c72b0", "MIXED": "#dd8452", "CROSS": "#55a868",
                 "GMM-UBM": "#8172b3", "random": "#b0b0b0"}
SCENARIO_ORDER = list(SCENARIOS)
METRIC_LABELS = {name: m.label for name, m in METRICS.items()}

plt.rcParams["svg.hashsalt"] = "damp-mash"  # fixed SVG ids: reproducible files


def save_figure(fig, stem) -> dict:
    """Write ``<stem>.png`` (120 dpi) and ``<stem>.svg``; return ``{"png": path, "svg": path}``."""
    stem = Path(stem)
    paths = {}
    for fmt, metadata in (("png", {"Software": None}), ("svg", {"Date": None})):
        buffer = io.BytesIO()
        fig.savefig(buffer, format=fmt, dpi=120, metadata=metadata, bbox_inches="tight")
        path = stem.with_suffix(f".{fmt}")
        write_bytes(path, buffer.getvalue())
        paths[fmt] = path
    plt.close(fig)
    return paths


def ordered(values, order) -> list:
    """Distinct ``values`` in the order of ``order``, the others sorted after them."""
    present = list(dict.fromkeys(values))
    return [v for v in order if v in present] + sorted(v for v in present if v not in order)


def _colour(model: str, i: int) -> str:
    return MODEL_COLOURS.get(model, plt.get_cmap("tab10")(i % 10))


def main_rows(table: pd.DataFrame) -> pd.DataFrame:
    """Each model's pre-trained rows (its scratch rows if it has none) and every baseline.

    Scratch models that have a pre-trained twin appear only in Figure 5.
    """
    with_pretrained = set(table.loc[table["pretrained"], "model"])
    keep = table["pretrained"] | ~table["model"].isin(with_pretrained)
    return table[keep]


def _bars(ax, table: pd.DataFrame, metric: str, *, back_metric: str | None = None,
          label_values: bool = True) -> None:
    """Grouped bars of ``metric`` per scenario and model on ``ax``; chance as a grey line.

    With ``back_metric`` a hatched bar of that metric is drawn behind each bar (top-5
    behind top-1, as in the paper's Figure 3).
    """
    rows = main_rows(table)
    models = ordered([m for m in rows["model"] if m != "chance"], MODEL_ORDER)
    scenarios = ordered(rows["scenario"], SCENARIO_ORDER)
    indexed = rows.set_index(["model", "scenario", "metric"])
    value = indexed["value"]
    low = indexed["ci_low"] if "ci_low" in indexed else value * np.nan
    high = indexed["ci_high"] if "ci_high" in indexed else value * np.nan
    width = 0.8 / max(1, len(models))
    for i, model in enumerate(models):
        x = np.arange(len(scenarios)) - 0.4 + width * (i + 0.5)
        colour = _colour(model, i)
        if back_metric:
            back = [value.get((model, s, back_metric), np.nan) for s in scenarios]
            ax.bar(x, back, width, color=colour, alpha=0.35, hatch="//", edgecolor=colour,
                   linewidth=0)
        front = np.array([value.get((model, s, metric), np.nan) for s in scenarios])
        ax.bar(x, front, width, color=colour, label=model)
        lo = np.array([low.get((model, s, metric), np.nan) for s in scenarios])
        hi = np.array([high.get((model, s, metric), np.nan) for s in scenarios])
        has = np.isfinite(lo) & np.isfinite(hi) & np.isfinite(front)
        if has.any():  # the bootstrap interval as an asymmetric error bar
            ax.errorbar(x[has], front[has], yerr=[front[has] - lo[has], hi[has] - front[has]],
                        fmt="none", ecolor="black", elinewidth=0.8, capsize=1.5)
        if label_values:
            for xi, v, top in zip(x, front, np.where(has, hi, front)):
                if np.isfinite(v):
                    ax.text(xi, top + 0.01, f"{v:.2f}", ha="center", va="bottom", fontsize=6,
                            rotation=90)
    for j, scenario in enumerate(scenarios):
        for m, style in ((metric, "-"), (back_metric, "--")):
            level = value.get(("chance", scenario, m), np.nan) if m else np.nan
            if np.isfinite(level):
                ax.hlines(level, j - 0.45, j + 0.45, colors="0.3", linestyles=style, linewidth=1)
    ax.set_xticks(np.arange(len(scenarios)), scenarios)
    ax.set_ylim(0, 1.2)
    ax.grid(axis="y", alpha=0.3)


def plot_identification(table: pd.DataFrame):
    """Figure 3: top-1 (solid) and top-5 (hatched) accuracy per model and scenario."""
    fig, ax = plt.subplots(figsize=(9, 4))
    _bars(ax, table, "top1", back_metric="top5")
    ax.set_ylabel("accuracy")
    ax.set_title("Singer identification: top-1 (solid, value; bar: interval) and top-5 "
                 "(hatched); "
                 "chance: grey solid / dashed", fontsize=9)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    return fig


def plot_retrieval(table: pd.DataFrame):
    """Figure 4: precision@5, recall@5 and mAP per model and scenario."""
    fig, axes = plt.subplots(1, 3, figsize=(14, 4), sharey=True)
    for ax, metric in zip(axes, ["p@5", "r@5", "map"]):
        _bars(ax, table, metric)
        ax.set_title(METRIC_LABELS[metric], fontsize=10)
        ax.tick_params(axis="x", labelsize=7)
    axes[0].set_ylabel("score (grey line: chance)")
    axes[-1].legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.02, 1.0))
    return fig


def pretraining_gain(table: pd.DataFrame, metric: str = "top1") -> pd.DataFrame:
    """Pre-trained minus from-scratch ``metric`` per model and scenario.

    Columns model, scenario, pretrained, scratch, gain, gain_pct (relative to scratch).
    """
    rows = table[(table["metric"] == metric) & ~table["model"].isin(["random", "chance"])]
    wide = rows.pivot_table(index=["model", "scenario"], columns="pretrained", values="value")
    if True not in wide.columns or False not in wide.columns:
        return pd.DataFrame(columns=["model", "scenario", "pretrained", "scratch", "gain",
                                     "gain_pct"])
    wide = wide.rename(columns={True: "pretrained", False: "scratch"}).dropna().reset_index()
    wide.columns.name = None
    wide["gain"] = wide["pretrained"] - wide["scratch"]
    wide["gain_pct"] = 100 * wide["gain"] / wide["scratch"].where(wide["scratch"] > 0)
    return wide


def plot_pretraining_gain(table: pd.DataFrame):
    """Figure 5: top-1 improvement from pre-training, per model across scenarios."""
    gains = pretraining_gain(table)
    fig, ax = plt.subplots(figsize=(7, 3.5))
    if gains.empty:
        ax.text(0.5, 0.5, "no from-scratch models were evaluated", ha="center",
                transform=ax.transAxes)
        ax.set_axis_off()
        return fig
    scenarios = ordered(gains["scenario"], SCENARIO_ORDER)
    markers = {"MONO": "o", "MIXED": "s", "CROSS": "*"}
    for i, model in enumerate(ordered(gains["model"], MODEL_ORDER)):
        g = gains[gains["model"] == model].set_index("scenario").reindex(scenarios)
        x = np.arange(len(scenarios))
        ax.plot(x, g["gain"], marker=markers.get(model, "o"), markersize=9,
                color=_colour(model, i), label=model)
        for xi, gain, pct in zip(x, g["gain"], g["gain_pct"]):
            if np.isfinite(gain):
                text = f"{pct:+.0f}%" if np.isfinite(pct) else f"{gain:+.2f}"
                ax.annotate(text, (xi, gain), textcoords="offset points",
                            xytext=(6, 4 if i % 2 == 0 else -12),
                            fontsize=7, color=_colour(model, i))
    ax.axhline(0, color="0.3", linewidth=0.8)
    ax.margins(x=0.08, y=0.2)
    ax.set_xticks(np.arange(len(scenarios)), scenarios)
    ax.set_ylabel("top-1 gain (pre-trained - scratch)")
    ax.set_title("Effect of classification pre-training (labels: % of scratch top-1)",
                 fontsize=9)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    return fig


def plot_snr(snr_table: pd.DataFrame):
    """Figure 6: top-1 (solid) and top-5 (dotted) against SNR, one panel per scenario."""
    rows = main_rows(snr_table)
    scenarios = ordered(rows["scenario"], SCENARIO_ORDER)
    fig, axes = plt.subplots(1, max(1, len(scenarios)), figsize=(5 * max(1, len(scenarios)), 3.6),
                             sharey=True, squeeze=False)
    for ax, scenario in zip(axes[0], scenarios):
        sub = rows[rows["scenario"] == scenario]
        for i, model in enumerate(ordered(sub["model"], MODEL_ORDER + ["chance"])):
            for metric, style in (("top1", "-"), ("top5", ":")):
                line = sub[(sub["model"] == model) & (sub["metric"] == metric)]
                line = line.sort_values("snr_db")
                colour = "0.3" if model == "chance" else _colour(model, i)
                if metric == "top1" and {"ci_low", "ci_high"} <= set(line.columns) \
                        and line["ci_low"].notna().all() and len(line):
                    ax.fill_between(line["snr_db"], line["ci_low"], line["ci_high"],
                                    color=colour, alpha=0.15, linewidth=0)
                ax.plot(line["snr_db"], line["value"], style, color=colour,
                        marker=None if model == "chance" else "o", markersize=4,
                        linewidth=1 if model == "chance" else 1.6,
                        label=f"{model} {METRIC_LABELS[metric].split()[0]}")
        ax.set_title(scenario, fontsize=10)
        ax.set_xticks(sorted(sub["snr_db"].unique()))
        ax.set_xlabel("vocal-to-accompaniment ratio (dB)")
        ax.set_ylim(0, 1.05)
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel("accuracy")
    axes[0][-1].legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.02, 1.0))
    return fig


def paired_styles(singers) -> dict:
    """``{singer: (light colour, dark colour, marker)}`` from the "Paired" palette.

    The palette has 6 pairs; singers past the sixth reuse the pairs with another marker.
    """
    cmap = plt.get_cmap("Paired")
    markers = ["o", "s", "D", "^"]
    return {s: (cmap(2 * (i % 6)), cmap(2 * (i % 6) + 1), markers[(i // 6) % len(markers)])
            for i, s in enumerate(singers)}


def plot_tsne(tsne: pd.DataFrame):
    """Figure 7: t-SNE of track vectors; left a-cappella, right mixed, one row per model.

    Highlighted singers take a Paired colour pair (lighter: a-cappella, darker: mixed);
    the other singers are grey.  Both columns of a row share one t-SNE map and axes.
    """
    models = ordered(tsne["model"], MODEL_ORDER)
    fig, axes = plt.subplots(len(models), 2, figsize=(10, 4.5 * len(models)), squeeze=False)
    styles = paired_styles(sorted(tsne.loc[tsne["highlight"], "singer"].unique()))
    for row, model in zip(axes, models):
        sub = tsne[tsne["model"] == model]
        pad = 0.05 * (sub[["x", "y"]].max() - sub[["x", "y"]].min())
        for ax, domain, shade, title in ((row[0], "mono", 0, "a-cappella"),
                                         (row[1], "mix", 1, "mixed")):
            part = sub[sub["domain"] == domain]
            grey = part[~part["highlight"]]
            ax.scatter(grey["x"], grey["y"], s=12, color="0.82", linewidths=0)
            for singer, (light, dark, marker) in styles.items():
                pts = part[part["singer"] == singer]
                ax.scatter(pts["x"], pts["y"], s=28, color=(light, dark)[shade], marker=marker,
                           edgecolors="0.2", linewidths=0.3, label=str(singer))
            ax.set_xlim(sub["x"].min() - pad["x"], sub["x"].max() + pad["x"])
            ax.set_ylim(sub["y"].min() - pad["y"], sub["y"].max() + pad["y"])
            ax.set_xticks([])
            ax.set_yticks([])
            ax.set_title(f"{model}: {title} tracks", fontsize=10)
        row[1].legend(fontsize=6, loc="center left", bbox_to_anchor=(1.01, 0.5),
                      title="singer", title_fontsize=7)
    return fig
