"""Analyse one accompaniment manifest shard: tempo, beats and a key per beat segment.

Writes PREFIX.segments.parquet, PREFIX.tracks.parquet, PREFIX.audio.npy (the shard's decoded
accompaniments, float32, concatenated) and PREFIX.skipped.parquet.
--params takes {"key": {...}, "tempo": {...}} (an "svd" section is accepted and unused).
"""

import logging

import pandas as pd

from ..analysis import analysis_params, analyze_accompaniment_shard
from ..atomic import write_npy, write_parquet
from ._common import load_params_dict

log = logging.getLogger(__name__)


def add_arguments(parser):
    parser.add_argument("--manifest", required=True, help="manifests/accompaniments.parquet")
    parser.add_argument("--shard", required=True, type=int, help="shard number k")
    parser.add_argument("--out-prefix", required=True,
                        help="output prefix, e.g. results/analysis/accompaniments/0")
    parser.add_argument("--params", default="{}", metavar="JSON|@FILE",
                        help='{"key": {...}, "tempo": {...}} or @path to JSON/YAML')


def run(args) -> int:
    _, key, tempo = analysis_params(load_params_dict(args.params))
    manifest = pd.read_parquet(args.manifest)
    shard = manifest[manifest["shard"] == args.shard].reset_index(drop=True)
    segments, tracks, audio, skipped = analyze_accompaniment_shard(shard, key, tempo)
    write_npy(f"{args.out_prefix}.audio.npy", audio)
    write_parquet(f"{args.out_prefix}.tracks.parquet", tracks)
    write_parquet(f"{args.out_prefix}.skipped.parquet", skipped)
    write_parquet(f"{args.out_prefix}.segments.parquet", segments)
    log.info("shard %d: %d tracks, %d segments, %d skipped", args.shard, len(shard),
             len(segments), len(skipped))
    return 0
