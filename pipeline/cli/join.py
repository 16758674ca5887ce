"""Mashability join: pair vocal windows with accompaniment segments of the same tempo and key.

Writes pairs.parquet (the recipe), unmatched.parquet, coverage.parquet and usage.parquet
into --out.
"""

from ..mashup.mix import MashupParams, run_join
from ._common import add_params_argument, load_params_dict, params_from


def add_arguments(parser):
    parser.add_argument("--windows", nargs="+", required=True, help="analysis/vocals/{k}.windows.parquet")
    parser.add_argument("--segments", nargs="+", required=True,
                        help="analysis/accompaniments/{k}.segments.parquet")
    parser.add_argument("--tracks", nargs="+", required=True,
                        help="analysis/accompaniments/{k}.tracks.parquet")
    parser.add_argument("--vocals", required=True, help="manifests/vocals.parquet")
    parser.add_argument("--accompaniments", required=True, help="manifests/accompaniments.parquet")
    parser.add_argument("--split", required=True, help="manifests/split.parquet")
    parser.add_argument("--vocals-root", required=True,
                        help="the vocal corpus root (sources.vocals.root); recipe paths are "
                             "relative to it")
    parser.add_argument("--accompaniments-root", required=True,
                        help="the accompaniment corpus root (sources.accompaniments.root)")
    parser.add_argument("--out", required=True, help="dataset directory")
    parser.add_argument("--seed", type=int, default=1234, help="global seed")
    add_params_argument(parser, "mashup")


def run(args) -> int:
    params = params_from(MashupParams, load_params_dict(args.params), "mashup")
    run_join(windows=args.windows, segments=args.segments, tracks=args.tracks, vocals=args.vocals,
             accompaniments=args.accompaniments, split=args.split, out=args.out, seed=args.seed,
             params=params, vocals_root=args.vocals_root,
             accompaniments_root=args.accompaniments_root)
    return 0
