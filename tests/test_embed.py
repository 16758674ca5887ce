"""Embedding audio files: windows, agreement with the evaluation path, skips, queries."""

import dataclasses

import librosa
import numpy as np
import pandas as pd
import pytest
import torch
from audio_fixtures import write_wav

from pipeline.analysis.voicing import SvdParams
from pipeline.cli import main
from pipeline.core.audio import load_audio
from pipeline.core.segment import SAMPLE_RATE, SEGMENT_SAMPLES
from pipeline.evaluate import embed
from pipeline.train.checkpoint import load_model, save_model
from pipeline.train.model import EmbeddingModel, embed_mels

NORM = {"mono": {"mean": 0.5, "std": 0.7}, "mix": {"mean": 0.8, "std": 0.9}}


@pytest.fixture
def cross_model(tmp_path):
    torch.manual_seed(0)
    model = EmbeddingModel("cross", normalisation=NORM)
    save_model(model, tmp_path / "cross", {"dataset_version": "test"})
    return tmp_path / "cross"


def singing(rng, *, seconds: float, freq: float, silent=(0.0, 0.0), sr: int = 22050):
    """A vibrato tone with harmonics and a little noise, silent over ``silent`` (s)."""
    t = np.arange(int(seconds * sr)) / sr
    phase = 2 * np.pi * freq * t + 3 * np.sin(2 * np.pi * 5 * t)
    y = sum(0.2 / h * np.sin(h * phase) for h in (1, 2, 3)) + 0.01 * rng.standard_normal(len(t))
    y[int(silent[0] * sr):int(silent[1] * sr)] = 0.0
    return y.astype(np.float32)


def evaluation_path_mels(y, starts):
    """Log-mel as the dataset stores it (float16), computed here with librosa instead."""
    segments = np.stack([y[s:s + SEGMENT_SAMPLES] for s in starts]).astype(np.float64)
    mel = librosa.feature.melspectrogram(y=segments, sr=SAMPLE_RATE, n_fft=1024, hop_length=512,
                                         n_mels=128, power=1.0, center=True, pad_mode="constant",
                                         dtype=np.float64)
    return np.log10(1 + 10 * mel).transpose(0, 2, 1).astype(np.float16).astype(np.float32)


def test_embedding_a_datasets_own_audio_gives_the_evaluation_paths_vectors(tmp_path, rng):
    """Non-default features (dB log-mel): the dataset's windows and the model's mel settings."""
    from conftest import index_rows

    from pipeline.analysis.stage import analyze_vocal
    from pipeline.dataset.features import FeatureParams, log_mel, mel_settings
    from pipeline.dataset.shards import index_frame, write_shard
    from pipeline.evaluate.protocol import embed_segments, track_vectors

    features = FeatureParams(compression="db", amin=1e-4)
    torch.manual_seed(0)
    folder = tmp_path / "cross"
    save_model(EmbeddingModel("cross", normalisation={"mono": {"mean": -40.0, "std": 20.0},
                                                      "mix": {"mean": -40.0, "std": 20.0}}),
               folder, {"dataset_version": "test", "mel": mel_settings(features)})
    model = load_model(folder)
    y = singing(rng, seconds=14.0, freq=220.0, silent=(4.0, 8.5))
    path = write_wav(tmp_path / "take 1 (2).wav", y, sr=SAMPLE_RATE)
    y = load_audio(path)
    # the dataset: the analysis stage's windows, log-mel as the mix stage stores it
    starts = analyze_vocal(y).starts
    assert len(starts) >= 3
    assert any(s % SvdParams().hop_samples for s in starts)  # moved onto the beat grid
    mels = log_mel(np.stack([y[s:s + SEGMENT_SAMPLES] for s in starts]), **dataclasses.asdict(features),
                   dtype=np.float16)
    rows = pd.DataFrame(index_rows(0, len(starts), "test_query")).assign(vocal_start=starts)
    write_shard(tmp_path / "ds", 0, mono=mels, mix=mels, index=index_frame(rows))
    index = pd.read_parquet(tmp_path / "ds" / "index-000000.parquet")
    expected = embed_segments(tmp_path / "ds", index,
                              lambda m, d: embed_mels(model, m, d), domain="mono")
    track = track_vectors(index, expected).vectors[0]
    out = tmp_path / "emb.parquet"
    assert main(["embed", "--model", str(folder), "--domain", "mono", "--out", str(out),
                 "--singer", "alice", str(path)]) == 0
    segments = pd.read_parquet(tmp_path / "emb.segments.parquet")
    assert list(segments["start"]) == list(starts)
    np.testing.assert_allclose(np.stack(segments["embedding"].to_numpy()), expected,
                               rtol=1e-5, atol=1e-6)
    tracks = pd.read_parquet(out)
    np.testing.assert_allclose(tracks["embedding"].iloc[0], track, rtol=1e-5, atol=1e-6)
    assert tracks["singer"].tolist() == ["alice"] and tracks["domain"].tolist() == ["mono"]
    # with the default features instead of the model's, the vectors would differ
    default = embed_mels(model, embed.segment_log_mel(
        np.stack([y[s:s + SEGMENT_SAMPLES] for s in starts])), "mono")
    assert np.abs(default - expected).max() > 1e-2


def test_mixes_use_evenly_spaced_windows_and_the_mix_network(tmp_path, rng, cross_model):
    y = singing(rng, seconds=10.0, freq=330.0)
    model = load_model(cross_model)
    params = embed.EmbedParams(segments_per_track=3)
    starts = embed.window_starts(y, domain="mixed", params=params)
    last = (len(y) - SEGMENT_SAMPLES) // (SEGMENT_SAMPLES // 2) * (SEGMENT_SAMPLES // 2)
    assert list(starts) == [0, last // 2 // (SEGMENT_SAMPLES // 2) * (SEGMENT_SAMPLES // 2), last]
    got_starts, vectors = embed.embed_recording(y, model=model, domain="mixed", params=params)
    mels = evaluation_path_mels(y, got_starts)
    np.testing.assert_allclose(vectors, embed_mels(model, mels, "mix"), rtol=1e-4, atol=1e-5)
    assert not np.allclose(vectors, embed_mels(model, mels, "mono"), atol=1e-3)


def test_unusable_files_are_recorded_and_the_rest_embedded(tmp_path, rng, cross_model):
    good = write_wav(tmp_path / "good.wav", singing(rng, seconds=5.0, freq=200.0), sr=SAMPLE_RATE)
    short = write_wav(tmp_path / "short.wav", singing(rng, seconds=1.0, freq=200.0), sr=SAMPLE_RATE)
    silent = write_wav(tmp_path / "silent.wav", np.zeros(5 * SAMPLE_RATE, np.float32),
                       sr=SAMPLE_RATE)
    broken = tmp_path / "broken.wav"
    broken.write_bytes(b"RIFF0000WAVEnot really")
    tracks, segments, skipped = embed.embed_files([good, short, silent, broken],
                                                  model=load_model(cross_model), domain="mono")
    assert tracks["track"].tolist() == ["good"]
    reasons = dict(zip(skipped["path"], skipped["reason"]))
    assert reasons == {str(short): "too short", str(silent): "silent",  # the analysis stage's
                       str(broken): "undecodable"}
    _, _, skipped_mix = embed.embed_files([short], model=load_model(cross_model), domain="mixed")
    assert skipped_mix["reason"].tolist() == ["shorter than a segment"]


def test_rank_index_orders_tracks_and_singer_means_by_cosine():
    index = pd.DataFrame({
        "path": ["a1", "a2", "b1", "u1"], "track": ["a1", "a2", "b1", "u1"],
        "singer": ["A", "A", "B", ""],
        "embedding": [np.array([1.0, 0.0]), np.array([0.0, 1.0]), np.array([1.0, 0.2]),
                      np.array([-1.0, 0.0])]})
    tracks, singers = embed.rank_index(np.array([1.0, 0.1]), index)
    assert tracks["track"].tolist() == ["b1", "a1", "a2", "u1"]
    assert tracks["rank"].tolist() == [1, 2, 3, 4]
    # singer A's model is the mean (0.5, 0.5): cosine 0.55 / (sqrt(0.5) * sqrt(1.01))
    assert singers["singer"].tolist() == ["B", "A"]
    assert singers["score"].iloc[1] == pytest.approx(0.55 / (np.sqrt(0.5) * np.sqrt(1.01)))


def test_query_cli_ranks_an_index_and_refuses_another_models_index(tmp_path, rng, cross_model,
                                                                   capsys):
    files = [write_wav(tmp_path / f"{name}.wav", singing(rng, seconds=5.0, freq=f),
                       sr=SAMPLE_RATE) for name, f in (("a1", 200.0), ("a2", 210.0), ("b1", 400.0))]
    labels = tmp_path / "labels.csv"
    labels.write_text("path,singer\n" + "".join(f"{p},{p.stem[0].upper()}\n" for p in files))
    index = tmp_path / "index.parquet"
    assert main(["embed", "--model", str(cross_model), "--domain", "mixed", "--out", str(index),
                 "--labels", str(labels)] + [str(p) for p in files]) == 0
    capsys.readouterr()
    assert main(["query", "--model", str(cross_model), "--index", str(index), "--domain", "mono",
                 str(files[0])]) == 0
    printed = capsys.readouterr().out
    assert "singers:" in printed and "tracks:" in printed
    assert "a2" in printed and "b1" in printed and "a1.wav" not in printed.split("tracks:")[1]
    torch.manual_seed(1)
    save_model(EmbeddingModel("cross", normalisation=NORM), tmp_path / "other", {})
    assert main(["query", "--model", str(tmp_path / "other"), "--index", str(index),
                 str(files[0])]) == 2
    assert "another model" in capsys.readouterr().err
