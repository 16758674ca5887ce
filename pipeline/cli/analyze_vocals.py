"""Analyse one vocal manifest shard: voiced windows, their keys and the tempo.

Writes PREFIX.windows.parquet (one row per kept voiced window) and PREFIX.skipped.parquet
(files that failed to decode, are silent, too short or have no voiced window).
--params takes {"svd": {...}, "key": {...}, "tempo": {...}} (the config sections of those
names; missing keys take their defaults).
"""

import logging

from ..analysis.stage import analysis_params, analyze_vocal_shard
from ..core.atomic import write_parquet
from ._common import add_shard_arguments, load_params_dict, read_shard

log = logging.getLogger(__name__)


def add_arguments(parser):
    add_shard_arguments(parser, manifest="manifests/vocals.parquet",
                        prefix_example="results/analysis/vocals/3",
                        params_help='{"svd": {...}, "key": {...}, "tempo": {...}}')


def run(args) -> int:
    svd, key, tempo = analysis_params(load_params_dict(args.params))
    shard = read_shard(args.manifest, args.shard)
    windows, skipped = analyze_vocal_shard(shard, svd, key, tempo)
    write_parquet(f"{args.out_prefix}.windows.parquet", windows)
    write_parquet(f"{args.out_prefix}.skipped.parquet", skipped)
    log.info("shard %d: %d performances, %d windows, %d skipped", args.shard, len(shard),
             len(windows), len(skipped))
    return 0
