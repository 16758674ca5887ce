"""Analyse one vocal manifest shard: voiced windows, their keys and the tempo.

Writes PREFIX.windows.parquet (one row per kept voiced window) and PREFIX.skipped.parquet
(files that failed to decode, are silent, too short or have no voiced window).
--params takes {"svd": {...}, "key": {...}, "tempo": {...}} (the config sections of those
names; missing keys take their defaults).
"""

import logging

import pandas as pd

from ..analysis import analysis_params, analyze_vocal_shard
from ..atomic import write_parquet
from ._common import load_params_dict

log = logging.getLogger(__name__)


def add_arguments(parser):
    parser.add_argument("--manifest", required=True, help="manifests/vocals.parquet")
    parser.add_argument("--shard", required=True, type=int, help="shard number k")
    parser.add_argument("--out-prefix", required=True,
                        help="output prefix, e.g. results/analysis/vocals/3")
    parser.add_argument("--params", default="{}", metavar="JSON|@FILE",
                        help='{"svd": {...}, "key": {...}, "tempo": {...}} or @path to JSON/YAML')


def run(args) -> int:
    svd, key, tempo = analysis_params(load_params_dict(args.params))
    manifest = pd.read_parquet(args.manifest)
    shard = manifest[manifest["shard"] == args.shard].reset_index(drop=True)
    windows, skipped = analyze_vocal_shard(shard, svd, key, tempo)
    write_parquet(f"{args.out_prefix}.windows.parquet", windows)
    write_parquet(f"{args.out_prefix}.skipped.parquet", skipped)
    log.info("shard %d: %d performances, %d windows, %d skipped", args.shard, len(shard),
             len(windows), len(skipped))
    return 0
