"""The tables passed between stages: one schema per table, in one place.

Each schema maps a column to its pandas dtype ("str", "int64", "float64", "bool" or "object"
for lists).  ``TABLES`` names every table file by its path pattern in the results tree;
``docs/tables.md`` describes them, and ``tests/test_tables.py`` checks that it names every
column of every table here.  Stages import their schema from here and never spell columns
again.

>>> list(SKIPPED)
['corpus', 'path', 'id', 'stage', 'reason', 'detail']
"""

from __future__ import annotations

__all__ = ["ACCOMPANIMENT_MANIFEST", "EMBED_SEGMENTS", "EMBED_SKIPPED", "EMBED_TRACKS",
           "DATASET_INDEX", "METRICS_TABLE", "RUN_SPREAD", "SONGS", "SONG_PREDICTIONS", "MIX_SKIPPED", "PAIRS", "RECIPE", "SKIPPED", "SPLIT", "TABLES",
           "TRAIN_LOG", "ACC_SEGMENTS", "ACC_TRACKS", "UNMATCHED", "VOCAL_MANIFEST",
           "VOCAL_WINDOWS"]

# ingest
VOCAL_MANIFEST = {"id": "str", "path": "str", "singer": "str", "song": "str",
                  "duration_s": "float64", "sample_rate": "int64", "channels": "int64",
                  "size_bytes": "int64", "sha256": "str", "tempo_bpm": "float64",
                  "shard": "int64"}
ACCOMPANIMENT_MANIFEST = {"id": "str", "path": "str", "format": "str", "split": "str",
                          "duration_s": "float64", "sample_rate": "int64", "channels": "int64",
                          "size_bytes": "int64", "sha256": "str", "shard": "int64"}
# every input the pipeline drops, at any stage, with its reason
SKIPPED = {"corpus": "str", "path": "str", "id": "str", "stage": "str", "reason": "str",
           "detail": "str"}
# split (written by the join, which draws it among the performances it pairs)
SPLIT = {"id": "str", "singer": "str", "subset": "str"}
# analysis
VOCAL_WINDOWS = {"perf_id": "str", "singer": "str", "song": "str", "start": "int64",
                 "grid_shift": "int64", "voiced_ratio": "float64", "rms": "float64",
                 "key": "int64", "key_strength": "float64", "key_margin": "float64",
                 "track_key": "int64", "tempo_bpm": "float64", "tempo_source": "str",
                 "tempo_confidence": "float64"}
ACC_SEGMENTS = {"track_id": "str", "beat_index": "int64", "start": "int64", "key": "int64",
                "key_strength": "float64", "key_margin": "float64",
                "change_margin_s": "float64", "track_key": "int64", "tempo_bpm": "float64"}
ACC_TRACKS = {"track_id": "str", "tempo_bpm": "float64", "tempo_confidence": "float64",
              "beat_samples": "object", "track_key": "int64", "audio_offset": "int64",
              "audio_length": "int64"}
# mashup: the join's recipe (before source paths are attached) and its leftovers
PAIRS = {"segment_id": "str", "perf_id": "str", "singer": "str", "song": "str", "subset": "str",
         "window_index": "int64", "mix_index": "int64", "vocal_start": "int64",
         "acc_track": "str", "acc_start": "int64", "acc_beat_index": "int64",
         "tempo_bpm": "float64", "acc_tempo_bpm": "float64", "key": "int64", "acc_key": "int64",
         "tempo_relation": "str", "key_relation": "str", "tier": "str", "tempo_ratio": "float64",
         "key_distance": "int64", "shift_semitones": "int64", "stretch_ratio": "float64"}
# pairs.parquet on disk: the join's pairs with their sources (paths relative to the corpus roots)
RECIPE = dict(PAIRS, acc_shard="int64", vocal_shard="int64", vocal_path="str",
              vocal_sha256="str", acc_path="str", acc_format="str", acc_sha256="str")
UNMATCHED = {"perf_id": "str", "singer": "str", "song": "str", "subset": "str",
             "window_index": "int64", "vocal_start": "int64", "tempo_bpm": "float64",
             "key": "int64", "reason": "str"}
MIX_SKIPPED = {"segment_id": "str", "perf_id": "str", "path": "str", "reason": "str",
               "detail": "str"}
# dataset: one row per segment of the shards
DATASET_INDEX = {"segment_id": "str", "subset": "str", "singer": "str", "perf_id": "str",
         "song": "str", "window_index": "int64", "mix_index": "int64",
         "vocal_start": "int64", "acc_track": "str", "acc_start": "int64",
         "tempo_bpm": "float64", "acc_tempo_bpm": "float64", "key": "int64",
         "acc_key": "int64", "vocal_gain": "float64", "acc_gain": "float64",
         "snr_db": "float64", "shard": "int64", "row": "int64"}
# train
TRAIN_LOG = {"epoch": "int64", "train_loss": "float64", "valid_loss": "float64",
             "valid_acc": "float64", "lr": "float64", "seconds": "float64"}
# evaluate
METRICS_TABLE = {"model": "str", "pretrained": "bool", "scenario": "str", "metric": "str",
                 "value": "float64", "n": "int64", "ci_low": "float64", "ci_high": "float64"}
SONGS = {"path": "str", "singer": "str", "song": "str"}
SONG_PREDICTIONS = {"model": "str", "pretrained": "bool", "path": "str", "singer": "str",
                    "predicted": "str", "rank": "int64"}
RUN_SPREAD = {"model": "str", "pretrained": "bool", "scenario": "str", "metric": "str",
              "runs": "int64", "mean": "float64", "std": "float64", "min": "float64",
              "max": "float64"}
EMBED_TRACKS = {"path": "str", "track": "str", "singer": "str", "domain": "str",
                "n_segments": "int64", "model_id": "str", "embedding": "object"}
EMBED_SEGMENTS = {"path": "str", "track": "str", "singer": "str", "domain": "str",
                  "segment": "int64", "start": "int64", "model_id": "str",
                  "embedding": "object"}
EMBED_SKIPPED = {"path": "str", "reason": "str", "detail": "str"}

TABLES = {
    "manifests/vocals.parquet": VOCAL_MANIFEST,
    "manifests/accompaniments.parquet": ACCOMPANIMENT_MANIFEST,
    "manifests/skipped.parquet": SKIPPED,
    "split.parquet": SPLIT,
    "analysis/vocals/{k}.windows.parquet": VOCAL_WINDOWS,
    "analysis/accompaniments/{k}.segments.parquet": ACC_SEGMENTS,
    "analysis/accompaniments/{k}.tracks.parquet": ACC_TRACKS,
    "pairs.parquet": RECIPE,
    "unmatched.parquet": UNMATCHED,
    "skipped-{k:06d}.parquet": MIX_SKIPPED,
    "index-{k:06d}.parquet": DATASET_INDEX,
    "train_log.csv": TRAIN_LOG,
    "metrics.parquet": METRICS_TABLE,
    "compare-runs OUT": RUN_SPREAD,
    "songs/songs.parquet": SONGS,
    "songs/predictions.parquet": SONG_PREDICTIONS,
    "embed OUT.parquet": EMBED_TRACKS,
    "embed OUT.segments.parquet": EMBED_SEGMENTS,
    "embed OUT.skipped.parquet": EMBED_SKIPPED,
}
