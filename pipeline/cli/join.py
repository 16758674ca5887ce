"""Mashability join: pair vocal windows with accompaniment segments of matching tempo and key.

Draws the singer split among the performances the join pairs (--split-params; or uses a
fixed --split table) and writes pairs.parquet (the recipe), unmatched.parquet,
coverage.parquet, usage.parquet, and split.parquet + split.json (when drawn) into --out.
"""

from ..mashup.mix import MashupParams
from ..mashup.recipe import run_join
from ..sources.split import SplitParams
from ._common import add_params_argument, load_params_dict, params_from


def add_arguments(parser):
    parser.add_argument("--windows", nargs="+", required=True, help="analysis/vocals/{k}.windows.parquet")
    parser.add_argument("--segments", nargs="+", required=True,
                        help="analysis/accompaniments/{k}.segments.parquet")
    parser.add_argument("--tracks", nargs="+", required=True,
                        help="analysis/accompaniments/{k}.tracks.parquet")
    parser.add_argument("--vocals", required=True, help="manifests/vocals.parquet")
    parser.add_argument("--accompaniments", required=True, help="manifests/accompaniments.parquet")
    split = parser.add_mutually_exclusive_group(required=True)
    split.add_argument("--split-params", metavar="JSON|@FILE",
                       help="the 'split' config section: draw the split among the performances "
                            "the join pairs and write split.parquet and split.json into --out")
    split.add_argument("--split", help="a fixed split table (id, singer, subset) instead")
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
    split_params = (None if args.split_params is None else
                    params_from(SplitParams, load_params_dict(args.split_params), "split"))
    run_join(windows=args.windows, segments=args.segments, tracks=args.tracks, vocals=args.vocals,
             accompaniments=args.accompaniments, split=args.split, split_params=split_params,
             out=args.out, seed=args.seed, params=params, vocals_root=args.vocals_root,
             accompaniments_root=args.accompaniments_root)
    return 0
