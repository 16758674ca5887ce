"""Ingest the vocal and accompaniment corpora into manifests (Parquet) and a skipped table.

Reads only file headers and bytes (for the sha256); writes OUT/vocals.parquet,
OUT/accompaniments.parquet and OUT/skipped.parquet.
"""

from ..sources.accompaniments import AccompanimentSource
from ..sources.ingest import ShardParams, ingest
from ..sources.vocals import VocalSource
from ._common import load_params_dict, params_from


def add_arguments(parser):
    parser.add_argument("--vocals", required=True, metavar="JSON|@FILE",
                        help="the sources.vocals config section (type, root, metadata, ...)")
    parser.add_argument("--accompaniments", required=True, metavar="JSON|@FILE",
                        help="the sources.accompaniments config section (type, root, splits)")
    parser.add_argument("--shards", default="{}", metavar="JSON|@FILE",
                        help="the shards config section (vocal_performances, accompaniment_tracks)")
    parser.add_argument("--out", required=True, help="output folder for the manifests")


def run(args) -> int:
    vocals = params_from(VocalSource, load_params_dict(args.vocals), "sources.vocals")
    acc = load_params_dict(args.accompaniments)
    if "splits" in acc:
        acc["splits"] = tuple(acc["splits"])
    accompaniments = params_from(AccompanimentSource, acc, "sources.accompaniments")
    shards = params_from(ShardParams, load_params_dict(args.shards), "shards")
    counts = ingest(vocals, accompaniments, shards, args.out)
    print(" ".join(f"{k}={v}" for k, v in counts.items()))
    return 0
