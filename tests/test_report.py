"""Report: every figure present and embedded, published numbers marked, reproducible, renders."""

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
