"""Report: every figure present and embedded, published numbers marked, reproducible, renders."""

import html as html_module
import json
import re
import shutil
import subprocess

import numpy as np
import pandas as pd
import pytest

from pipeline.cli import main
from pipeline.evaluate.protocol import SCENARIOS, tidy
from pipeline.report import figures
from pipeline.report import html as report

MODELS = ["MONO", "MIXED", "CROSS"]
METRICS = ["top1", "top5", "p@5", "r@5", "map"]


def metrics_table(rng):
    records = []
    for model in MODELS + ["GMM-UBM", "random", "chance"]:
        for pretrained in ((True, False) if model in MODELS else (False,)):
            for scenario in SCENARIOS:
                for metric in METRICS:
                    value = 0.2 + 0.1 * MODELS.index(model) if model in MODELS else 0.05
                    value += 0.1 * pretrained if metric == "top1" else rng.uniform(0, 0.3)
                    records.append({"model": model, "pretrained": pretrained,
                                    "scenario": scenario, "metric": metric,
                                    "value": value, "n": 40})
    return tidy(records)


def snr_table(rng):
    table = metrics_table(rng)
    table = table[table["scenario"].isin(["Mix2Mix", "Mono2Mix"])]
    return pd.concat([table.assign(snr_db=s) for s in (-5.0, 0.0, 5.0, 10.0)], ignore_index=True)


def tsne_table(rng):
    singers = np.repeat([f"s{i}" for i in range(12)], 10)
    frames = [pd.DataFrame({"model": m, "singer": singers, "perf_id": np.arange(120),
                            "domain": d, "x": rng.standard_normal(120),
                            "y": rng.standard_normal(120)})
              for m in ("MIXED", "CROSS") for d in ("mono", "mix")]
    table = pd.concat(frames, ignore_index=True)
    table["highlight"] = table["singer"].isin([f"s{i}" for i in range(10)])
    return table


def test_pretraining_gain_is_pretrained_minus_scratch(rng):
    gains = figures.pretraining_gain(metrics_table(rng))
    assert set(gains["model"]) == set(MODELS) and len(gains) == 12
    np.testing.assert_allclose(gains["gain"], 0.1)
    cross = gains[gains["model"] == "CROSS"].iloc[0]
    assert cross["gain_pct"] == pytest.approx(100 * 0.1 / 0.4)


@pytest.fixture
def built(tmp_path, rng):
    card = {"version": "v-test", "counts": {"segments": 321}, "coverage": {"matched": 0.5}}
    index = pd.DataFrame({"subset": ["test_model", "train"] * 5, "snr_db": np.arange(10.0)})
    kwargs = dict(metrics=metrics_table(rng), snr=snr_table(rng), tsne=tsne_table(rng),
                  card=card, index=index)
    made = report.write_report(tmp_path / "report.html", figures_dir=tmp_path / "fig", **kwargs)
    return tmp_path, made, kwargs


def test_report_embeds_every_figure_and_marks_paper_numbers(built):
    tmp_path, made, _ = built
    assert set(made) == {"identification", "retrieval", "pretraining", "snr", "tsne"}
    for paths in made.values():
        assert paths["png"].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert b"<svg" in paths["svg"].read_bytes()[:2000]
    text = (tmp_path / "report.html").read_text()
    images = re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', text)
    assert len(images) == 5
    assert "src=\"http" not in text and "<script" not in text  # self-contained
    assert "From the paper, not from this pipeline" in text
    assert "0.291" in text and "0.664" in text
    assert "v-test" in text and "321" in text
    assert "hard-coded 8" in text and "Average precision is the mean" in text


def test_report_is_reproducible(built, tmp_path):
    first, made, kwargs = built
    again = report.write_report(tmp_path / "again.html", figures_dir=tmp_path / "fig2", **kwargs)
    for name, paths in made.items():
        for fmt in ("png", "svg"):
            assert paths[fmt].read_bytes() == again[name][fmt].read_bytes(), (name, fmt)
    assert (first / "report.html").read_bytes() == (tmp_path / "again.html").read_bytes()


def test_report_without_optional_parts(tmp_path, rng):
    table = metrics_table(rng)
    made = report.write_report(tmp_path / "r.html", metrics=table[table["pretrained"] | (
        table["model"] == "chance")], figures_dir=tmp_path / "f")
    assert set(made) == {"identification", "retrieval", "pretraining"}
    text = (tmp_path / "r.html").read_text()
    assert "not computed" in text and "No dataset card" in text


def test_report_cli(tmp_path, rng):
    from pipeline.evaluate.protocol import TrackSet, track_table

    metrics = metrics_table(rng)
    metrics[metrics["model"] != "GMM-UBM"].to_parquet(tmp_path / "m.parquet")
    metrics[metrics["model"] == "GMM-UBM"].to_parquet(tmp_path / "b.parquet")
    snr_table(rng).to_parquet(tmp_path / "snr.parquet")
    singers = np.repeat([f"s{i}" for i in range(6)], 4)
    tracks = {(m, True): {d: TrackSet(np.arange(24), singers, np.full(24, "test_model"),
                                      rng.standard_normal((24, 8))) for d in ("mono", "mix")}
              for m in ("MIXED", "CROSS", "MONO")}
    track_table(tracks).to_parquet(tmp_path / "emb.parquet")
    dataset = tmp_path / "ds"
    dataset.mkdir()
    (dataset / "card.json").write_text(json.dumps({"version": "cli-v", "counts": {"a": 1}}))
    pd.DataFrame({"subset": ["train"], "snr_db": [1.0], "singer": ["x"]}).to_parquet(
        dataset / "index.parquet")
    pd.DataFrame({"corpus": ["vocals"] * 3, "id": ["a", "b", "c"], "path": ["p"] * 3,
                  "status": ["used", "used", "skipped"], "stage": [None, None, "ingest"],
                  "reason": [None, None, "silent"], "detail": [""] * 3,
                  "segments": [3, 2, 0]}).to_parquet(tmp_path / "acc.parquet")
    out = tmp_path / "out"
    code = main(["report", "--metrics", str(tmp_path / "m.parquet"), "--baseline",
                 str(tmp_path / "b.parquet"), "--snr", str(tmp_path / "snr.parquet"),
                 "--embeddings", str(tmp_path / "emb.parquet"), "--dataset", str(dataset),
                 "--accounting", str(tmp_path / "acc.parquet"), "--out", str(out / "report.html"),
                 "--combined", str(out / "all"),
                 "--params", '{"tsne_singers": 4, "tsne_highlight": 2}'])
    assert code == 0
    for name in ("fig3_identification", "fig5_pretraining", "fig6_snr", "fig7_tsne"):
        assert (out / "figures" / f"{name}.svg").exists()
    text = (out / "report.html").read_text()
    assert "cli-v" in text and "silent" in text and "GMM-UBM" in text
    assert len(pd.read_csv(out / "all.csv")) == len(metrics)
    assert "CROSS (scratch)" in json.loads((out / "all.json").read_text())
    assert main(["report", "--metrics", str(tmp_path / "missing.parquet"),
                 "--out", str(tmp_path / "x.html")]) == 2


@pytest.mark.skipif(shutil.which("chromium") is None, reason="chromium not installed")
def test_report_renders_in_headless_chromium(built, tmp_path):
    from PIL import Image

    out, _, _ = built
    shot = tmp_path / "shot.png"
    subprocess.run(["chromium", "--headless", "--no-sandbox", "--disable-gpu",
                    "--disable-background-networking", "--disable-component-update",
                    "--disable-sync", "--no-first-run", f"--user-data-dir={tmp_path / 'profile'}",
                    f"--screenshot={shot}", "--window-size=1280,3000",
                    (out / "report.html").as_uri()],
                   check=True, capture_output=True, timeout=120)
    pixels = np.asarray(Image.open(shot).convert("L"), dtype=float)
    assert pixels.shape == (3000, 1280)
    assert (pixels < 128).mean() > 0.01  # text and figures drawn, not a blank page


def test_scratch_only_models_still_appear_in_the_main_figures(rng):
    table = metrics_table(rng)
    table = table[~((table["model"] == "MONO") & table["pretrained"])]
    rows = figures.main_rows(table)
    assert set(rows.loc[rows["model"] == "MONO", "pretrained"]) == {False}
    assert set(rows.loc[rows["model"] == "CROSS", "pretrained"]) == {True}


def ordering_table(gmm_mono2mix: float, cross_mono2mix: float):
    """top1 of GMM-UBM, CROSS and MONO on Mono2Mix with +-0.05 intervals, chance 0.05."""
    records = []
    for model, value in (("GMM-UBM", gmm_mono2mix), ("CROSS", cross_mono2mix), ("MONO", 0.10),
                         ("chance", 0.05)):
        ci = (np.nan, np.nan) if model == "chance" else (value - 0.05, value + 0.05)
        records.append({"model": model, "pretrained": model in ("CROSS", "MONO"),
                        "scenario": "Mono2Mix", "metric": "top1", "value": value, "n": 70,
                        "ci_low": ci[0], "ci_high": ci[1]})
    return tidy(records)


def test_sentences_follow_the_numbers_and_flip_with_them():
    from pipeline.report import findings

    gmm_best = ordering_table(gmm_mono2mix=0.42, cross_mono2mix=0.26)
    said = " ".join(findings.findings(gmm_best))
    assert "Mono2Mix: GMM-UBM scores highest, 0.42 [0.37, 0.47]" in said
    assert "next, CROSS at 0.26, is outside that interval" in said
    assert "GMM-UBM on Mono2Mix: 0.42 [0.37, 0.47] against chance 0.05, 8.4x chance" in said
    assert "CROSS 0.26 [0.21, 0.31] is below GMM-UBM" in said
    assert "is above MONO" in said and "(2.6x)" in said
    assert "near chance" not in said and "indistinguishable" not in said

    flipped = " ".join(findings.findings(ordering_table(gmm_mono2mix=0.07, cross_mono2mix=0.40)))
    assert "Mono2Mix: CROSS scores highest" in flipped
    assert "GMM-UBM on Mono2Mix: 0.07 [0.02, 0.12] against chance 0.05, " \
           "indistinguishable from chance" in flipped
    assert "CROSS 0.40 [0.35, 0.45] is above GMM-UBM" in flipped

    close = findings.best_sentence(ordering_table(0.42, 0.40), "Mono2Mix")
    assert close.endswith("CROSS at 0.40, is inside that interval.")
    tie = findings.best_sentence(ordering_table(0.40, 0.40), "Mono2Mix")
    assert "tie for the highest score, 0.40" in tie

    bare = ordering_table(0.42, 0.26).assign(ci_low=np.nan, ci_high=np.nan)
    said = " ".join(findings.findings(bare))  # without intervals nothing claims a separation
    assert "outside" not in said and "above it" not in said
    assert "GMM-UBM on Mono2Mix: 0.42 against chance 0.05, 8.4x chance (no interval" in said


def test_report_prints_the_derived_sentences_not_a_fixed_claim(tmp_path):
    for gmm, expected in ((0.42, "8.4x chance, above it"), (0.07, "indistinguishable")):
        out = tmp_path / f"r{gmm}.html"
        report.write_report(out, metrics=ordering_table(gmm, 0.26), figures_dir=tmp_path / "f")
        text = html_module.unescape(out.read_text())
        assert expected in text and "expected near chance" not in text
        assert "95% percentile bootstrap interval (1000 resamples of the query tracks)" in text


def test_report_lists_the_papers_orderings_as_the_numbers_decide(tmp_path):
    for cross, verdict in ((0.18, "FAILS"), (0.40, "holds")):
        out = tmp_path / f"o{cross}.html"
        report.write_report(out, metrics=ordering_table(0.07, cross), figures_dir=tmp_path / "f")
        text = html_module.unescape(out.read_text())
        # MONO 0.10: CROSS must reach 0.20 (2x) and beat GMM-UBM's 0.07
        assert f"{verdict}: CROSS Mono2Mix >= 2x MONO ({cross:.2f} against 0.20" in text
        assert "holds: GMM-UBM Mono2Mix <= 2x chance (0.07 against 0.10" in text
        assert "MIXED Mix2Mix" not in text  # no Mix2Mix cells: left out, not guessed
    assert report.orderings_section(ordering_table(0.07, 0.4).iloc[0:0]) == ""


def test_figures_draw_the_intervals_as_error_bars(rng):
    table = ordering_table(0.42, 0.26)
    fig = figures.plot_identification(table)
    bars = [c for c in fig.axes[0].collections if c.__class__.__name__ == "LineCollection"
            and len(c.get_segments()) and c.get_segments()[0][0][0] == c.get_segments()[0][1][0]]
    spans = sorted(round(s[1][1] - s[0][1], 6) for c in bars for s in c.get_segments())
    assert spans == [0.1, 0.1, 0.1]  # one vertical bar of width 2 x 0.05 per model, none for chance
    figures.plt.close(fig)


def test_pretraining_table_gives_each_side_its_interval(rng):
    table = metrics_table(rng)
    table["ci_low"], table["ci_high"] = table["value"] - 0.05, table["value"] + 0.05
    gains = report._sorted_gains(figures.pretraining_gain(table), table)
    cross = gains[(gains["model"] == "CROSS") & (gains["scenario"] == "Mono2Mix")].iloc[0]
    # CROSS top-1: 0.4 from scratch, 0.5 pre-trained (metrics_table), +-0.05
    assert (cross["scratch"], cross["pretrained"]) == ("0.400 [0.350, 0.450]",
                                                       "0.500 [0.450, 0.550]")
