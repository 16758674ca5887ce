"""Mix the pairs of one vocal shard and write its mono/mix log-mel shards and index.

Reads accompaniments from the analysis audio cache given by --tracks and --audio (only those
files: {k}.tracks.parquet and its {k}.audio.npy, memory-mapped) and decodes of each vocal
performance only the samples of its windows (bit for bit a whole decode's; files where that
is not proved exact are decoded whole).  --subsets and --snr-db regenerate e.g. test-singer
mixes at other vocal-to-accompaniment ratios, one --out directory per ratio (the SNR sweep),
decoding each performance once for all of them.
"""

import pandas as pd

from ..dataset.features import FeatureParams
from ..mashup.mix import MashupParams, mix_shard
from ..sources.cache import CachedAccompaniments
from ._common import add_params_argument, load_params_dict, params_from


def add_arguments(parser):
    parser.add_argument("--pairs", required=True, help="pairs.parquet (the join's recipe)")
    parser.add_argument("--vocals", required=True, help="manifests/vocals.parquet")
    parser.add_argument("--tracks", nargs="+", required=True,
                        help="analysis/accompaniments/{k}.tracks.parquet of every shard")
    parser.add_argument("--audio", nargs="+", required=True,
                        help="analysis/accompaniments/{k}.audio.npy of the same shards")
    parser.add_argument("--shard", required=True, type=int, help="vocal shard number k")
    parser.add_argument("--out", nargs="+", required=True,
                        help="dataset directory (with several --snr-db: one per ratio, in order)")
    parser.add_argument("--subsets", nargs="+", default=None,
                        help="only pairs of these subsets (e.g. test_model test_query)")
    parser.add_argument("--snr-db", nargs="+", type=float, default=None,
                        help="vocal-to-accompaniment ratio override(s) (dB)")
    add_params_argument(parser, "mashup")
    parser.add_argument("--features", default="{}", metavar="JSON|@FILE",
                        help="the 'features' config section")


def run(args) -> int:
    params = params_from(MashupParams, load_params_dict(args.params), "mashup")
    features = params_from(FeatureParams, load_params_dict(args.features), "features")
    vocals = pd.read_parquet(args.vocals, columns=["id", "path"])
    accompaniments = CachedAccompaniments(tracks=args.tracks, audio=args.audio)
    mix_shard(pairs=pd.read_parquet(args.pairs), vocal_paths=dict(zip(vocals["id"], vocals["path"])),
              accompaniments=accompaniments, shard=args.shard, out=args.out,
              snr_db=args.snr_db or [params.snr_db], params=params, features=features,
              subsets=args.subsets)
    return 0
