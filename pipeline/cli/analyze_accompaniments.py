"""Analyse one accompaniment manifest shard: tempo, beats and a key per beat segment.

Writes PREFIX.segments.parquet, PREFIX.tracks.parquet, PREFIX.audio.npy (the shard's decoded
accompaniments, float32, concatenated) and PREFIX.skipped.parquet.
--params takes {"key": {...}, "tempo": {...}} (an "svd" section is accepted and unused).
"""

import logging

from ..analysis.stage import analysis_params, analyze_accompaniment_shard
from ..core.atomic import write_parquet
from ..sources.cache import AUDIO_SUFFIX, TRACKS_SUFFIX, write_audio
from ._common import add_shard_arguments, load_params_dict, read_shard

log = logging.getLogger(__name__)


def add_arguments(parser):
    add_shard_arguments(parser, manifest="manifests/accompaniments.parquet",
                        prefix_example="results/analysis/accompaniments/0",
                        params_help='{"key": {...}, "tempo": {...}}')


def run(args) -> int:
    _, key, tempo = analysis_params(load_params_dict(args.params))
    shard = read_shard(args.manifest, args.shard)
    segments, tracks, audio, skipped = analyze_accompaniment_shard(shard, key, tempo)
    write_audio(f"{args.out_prefix}{AUDIO_SUFFIX}", audio)
    write_parquet(f"{args.out_prefix}{TRACKS_SUFFIX}", tracks)
    write_parquet(f"{args.out_prefix}.skipped.parquet", skipped)
    write_parquet(f"{args.out_prefix}.segments.parquet", segments)
    log.info("shard %d: %d tracks, %d segments, %d skipped", args.shard, len(shard),
             len(segments), len(skipped))
    return 0
