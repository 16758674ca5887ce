"""Evaluation drivers on a tiny synthetic dataset version with constructed embeddings."""

import numpy as np
import pandas as pd
import pytest
from conftest import complete_index

from pipeline.core.errors import PipelineError
from pipeline.core.tables import METRICS_TABLE
from pipeline.dataset.reader import read_index
from pipeline.dataset.shards import shard_name
from pipeline.evaluate import protocol as evaluate
from pipeline.evaluate.tsne import tsne_table

N_TEST, N_TRAIN, WINDOWS = 12, 2, 3


def write_dataset(path, rng, *, n_test=N_TEST, n_train=N_TRAIN, windows=WINDOWS):
    """Dataset version: singer code in band 0, window index in band 1, mix index in band 2."""
    records, mono, mix = [], [], []
    for s in range(n_test + n_train):
        subsets = ["test_model"] * 6 + ["test_query"] * 4 if s < n_test else ["train"] * 10
        for t, subset in enumerate(subsets):
            for w in range(windows):
                for m in range(2):
                    mel = rng.standard_normal((129, 128)).astype(np.float16)
                    mel[:, 0], mel[:, 1] = s, w
                    mixed = mel.copy()
                    mixed[:, 2] = m
                    mono.append(mel)
                    mix.append(mixed)
                    records.append({"segment_id": len(records), "subset": subset,
                                    "singer": f"u{s:03d}", "perf_id": f"u{s:03d}-p{t}",
                                    "window_index": w, "mix_index": m})
    index = pd.DataFrame.from_records(records)
    index["shard"] = index["segment_id"] // 2 % 2  # windows interleaved over two shards
    index["row"] = index.groupby("shard").cumcount()
    path.mkdir(parents=True, exist_ok=True)
    for k in (0, 1):
        sel = index["shard"].to_numpy() == k
        np.save(path / shard_name("mono", k), np.stack(mono)[sel])
        np.save(path / shard_name("mix", k), np.stack(mix)[sel])
    complete_index(index).to_parquet(path / "index.parquet")
    return path


@pytest.fixture
def dataset(tmp_path, rng):
    return write_dataset(tmp_path / "v1", rng)


def singer_of(mels):
    return np.rint(mels[:, 0, 0]).astype(int)


def one_hot(codes, n=N_TEST + N_TRAIN):
    return np.eye(n)[codes]


def perfect(mels, domain):
    return one_hot(singer_of(mels)) + 0.01


def shifted_mix(mels, domain):
    """Perfect within a domain, but mixed tracks land on the next singer's point."""
    codes = singer_of(mels)
    return one_hot(codes if domain == "mono" else (codes + 1) % N_TEST)


PARAMS = evaluate.EvalParams(segments_per_track=20, batch_size=7, seed=3)


def test_perfect_embeddings_score_one(dataset):
    table = evaluate.evaluate_models(dataset, {("CROSS", True): perfect}, params=PARAMS)
    ours = table[table["model"] == "CROSS"]
    assert set(ours["scenario"]) == set(evaluate.SCENARIOS)
    # Every metric is 1 except R@5, which with 6 relevant tracks is at most 5/6.
    recall = ours["metric"] == "r@5"
    assert (ours.loc[~recall, "value"] == 1.0).all()
    assert np.allclose(ours.loc[recall, "value"], 5 / 6)
    assert (ours.loc[ours["metric"] == "top1", "n"] == N_TEST * 4).all()
    assert list(table.columns) == list(METRICS_TABLE)


def test_recall_at_5_is_out_of_six_tracks(dataset):
    table = evaluate.evaluate_models(dataset, {("MONO", True): perfect}, params=PARAMS,
                                     scenarios=["Mono2Mono"], baselines=False)
    value = table.set_index("metric")["value"]
    assert value["p@5"] == 1.0 and value["r@5"] == pytest.approx(5 / 6) and value["map"] == 1.0


def test_domains_route_queries_and_database(dataset):
    table = evaluate.evaluate_models(dataset, {("X", False): shifted_mix}, params=PARAMS,
                                     baselines=False)
    top1 = table[table["metric"] == "top1"].set_index("scenario")["value"]
    assert top1["Mono2Mono"] == 1 and top1["Mix2Mix"] == 1
    assert top1["Mono2Mix"] == 0 and top1["Mix2Mono"] == 0


def test_random_baseline_near_chance_and_deterministic(dataset):
    a = evaluate.evaluate_models(dataset, {}, params=PARAMS)
    b = evaluate.evaluate_models(dataset, {}, params=PARAMS)
    pd.testing.assert_frame_equal(a, b)
    pivot = a.pivot_table(index=["scenario", "metric"], columns="model", values="value")
    chance = pivot["chance"].unstack()
    assert chance["top1"].iloc[0] == pytest.approx(1 / N_TEST)
    assert chance["p@5"].iloc[0] == pytest.approx(6 / (6 * N_TEST))
    # Random embeddings: within a few standard errors of chance over 48 queries.
    assert (pivot["random"] - pivot["chance"]).abs().max() < 0.2
    assert pivot["random"].unstack()["top1"].mean() < 0.25


def test_every_estimate_has_its_bootstrap_interval_and_chance_none(dataset):
    table = evaluate.evaluate_models(dataset, {("X", False): shifted_mix}, params=PARAMS)
    estimated = table[table["model"] != "chance"]
    assert (estimated["ci_low"] <= estimated["value"] + 1e-12).all()
    assert (estimated["value"] <= estimated["ci_high"] + 1e-12).all()
    # shifted_mix is perfect within a domain (a point interval at 1) and wrong across, and
    # the random baseline varies over queries, so its interval has width
    x = table[(table["model"] == "X") & (table["metric"] == "top1")].set_index("scenario")
    assert x.loc["Mono2Mono", ["ci_low", "ci_high"]].tolist() == [1.0, 1.0]
    rand = table[(table["model"] == "random") & (table["metric"] == "top1")]
    assert (rand["ci_high"] > rand["ci_low"]).all()
    assert table.loc[table["model"] == "chance", ["ci_low", "ci_high"]].isna().all().all()


def test_track_vector_is_mean_of_first_segments_of_mix_index_0(dataset):
    params = evaluate.EvalParams(segments_per_track=2)
    rows = evaluate.select_segments(read_index(dataset), subsets=["test_query"],
                                    segments_per_track=2)
    assert len(rows) == N_TEST * 4 * 2 and (rows["mix_index"] == 0).all()
    tracks = evaluate.embed_tracks(dataset, rows, lambda m, d: m[:, 0, :3], params=params)
    mix = tracks["mix"].vectors
    np.testing.assert_allclose(mix[:, 1], 0.5)  # windows 0 and 1
    np.testing.assert_allclose(mix[:, 2], 0.0)  # mix_index 0 only
    np.testing.assert_allclose(mix[:, 0], [int(p[1:4]) for p in tracks["mix"].perf_id])
    assert (tracks["mono"].subset == "test_query").all()


def test_snr_sweep_and_summary(tmp_path, rng):
    dirs = {snr: write_dataset(tmp_path / f"snr{snr}", rng, n_test=4, n_train=0, windows=1)
            for snr in (5, -5)}
    table = evaluate.evaluate_snr(dirs, {("CROSS", True): perfect}, params=PARAMS)
    assert sorted(table["snr_db"].unique()) == [-5.0, 5.0]
    assert set(table["scenario"]) == {"Mix2Mix", "Mono2Mix"}
    summary = evaluate.summary(table[table["snr_db"] == 5])
    assert summary["CROSS"]["Mix2Mix"]["top1"] == 1.0
    assert summary["chance"]["Mix2Mix"]["top1"] == 0.25


def test_track_table_round_trip_and_tsne(dataset):
    params = evaluate.EvalParams(tsne_singers=5, tsne_highlight=2, seed=1)
    tracks = evaluate.embed_models(dataset, {("CROSS", True): perfect}, params=params)
    table = evaluate.track_table(tracks)
    assert len(table) == N_TEST * 10 * 2
    back = evaluate.tracks_from_table(table)
    np.testing.assert_allclose(back["CROSS", True]["mix"].vectors,
                               tracks["CROSS", True]["mix"].vectors, rtol=1e-6)
    tsne = tsne_table({"CROSS": back["CROSS", True]}, params=params)
    assert tsne["singer"].nunique() == 5 and len(tsne) == 5 * 10 * 2
    assert tsne.loc[tsne["highlight"], "singer"].nunique() == 2
    assert set(tsne["domain"]) == {"mono", "mix"} and np.isfinite(tsne[["x", "y"]]).all().all()
    again = tsne_table({"CROSS": back["CROSS", True]}, params=params)
    pd.testing.assert_frame_equal(tsne, again)


def test_errors_name_the_file(tmp_path, dataset):
    with pytest.raises(PipelineError, match="index.parquet"):
        read_index(tmp_path)
    (dataset / "mix-000001.npy").unlink()
    with pytest.raises(PipelineError, match="mix-000001.npy"):
        evaluate.evaluate_models(dataset, {("M", True): perfect}, params=PARAMS)
    with pytest.raises(PipelineError, match="tsne_highlight"):
        evaluate.EvalParams(tsne_singers=2, tsne_highlight=3)


def test_evaluate_cli_with_real_models(tmp_path, dataset):
    """End to end through the CLI with untrained networks saved by pipeline.train.checkpoint."""
    model_mod = pytest.importorskip("pipeline.train.model")
    from pipeline.cli import main
    from pipeline.train.checkpoint import save_model

    norm = {"mono": {"mean": 0.0, "std": 1.0}, "mix": {"mean": 0.0, "std": 1.0}}
    small = model_mod.ModelConfig(channels=8, embedding_dim=16)
    paths = []
    for kind, init in (("cross", ["c.pt"]), ("mixed", ["m.pt"]), ("cross", [])):
        folder = tmp_path / f"{kind}-{'pretrained' if init else 'scratch'}"
        save_model(model_mod.EmbeddingModel(kind, small, normalisation=norm).eval(),
                             folder, {"init": init})
        paths.append(str(folder / "model.pt"))
    out = tmp_path / "eval"
    params = '{"segments_per_track": 2}'
    assert main(["evaluate", "--dataset", str(dataset), "--out", str(out), "--models", *paths,
                 "--seed", "5", "--params", params]) == 0
    table = pd.read_parquet(out / "metrics.parquet")
    assert {("CROSS", True), ("MIXED", True), ("CROSS", False)} <= set(
        zip(table["model"], table["pretrained"]))
    assert table["value"].between(0, 1).all()
    csv = pd.read_csv(out / "metrics.csv")
    assert list(csv.columns) == list(METRICS_TABLE) and len(csv) == len(table)
    tracks = pd.read_parquet(out / "track_embeddings.parquet")
    assert len(tracks) == 3 * 2 * N_TEST * 10 and len(tracks["embedding"].iloc[0]) == 16
    import json
    assert "CROSS (scratch)" in json.loads((out / "summary.json").read_text())
    again = tmp_path / "again"
    assert main(["evaluate", "--dataset", str(dataset), "--out", str(again), "--models", *paths,
                 "--seed", "5", "--params", params]) == 0
    for name in ("metrics.parquet", "metrics.csv", "summary.json", "track_embeddings.parquet"):
        assert (out / name).read_bytes() == (again / name).read_bytes(), name

    snr_out = tmp_path / "snr.parquet"
    assert main(["evaluate", "--snr-datasets", f"5={dataset}", f"-5={dataset}", "--out",
                 str(snr_out), "--models", paths[0], "--params", params]) == 0
    snr = pd.read_parquet(snr_out)
    assert set(snr["snr_db"]) == {5.0, -5.0} and set(snr["scenario"]) == {"Mix2Mix", "Mono2Mix"}
    assert snr_out.with_suffix(".csv").exists()
    assert main(["evaluate", "--dataset", str(dataset), "--out", str(out),
                 "--params", '{"segments": 2}']) == 2
    assert main(["evaluate", "--snr-datasets", "x=" + str(dataset), "--out", str(snr_out)]) == 2
