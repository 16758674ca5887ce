"""Write mixed songs of the unseen singers as <singer>/<perf_id>.wav (for evaluate-songs).

Reads the ingest manifests and the split; each performance of --subsets is mixed whole with a
test-split accompaniment at --snr-db (see pipeline/evaluate/demo_songs.py).
"""

import logging

import pandas as pd

from ..evaluate.demo_songs import write_demo_songs
from ._common import add_seed_argument

log = logging.getLogger(__name__)


def add_arguments(parser):
    parser.add_argument("--vocals", required=True, help="manifests/vocals.parquet")
    parser.add_argument("--accompaniments", required=True,
                        help="manifests/accompaniments.parquet")
    parser.add_argument("--split", required=True, help="datasets/<version>/split.parquet (drawn by the join)")
    parser.add_argument("--out", required=True, help="output folder")
    parser.add_argument("--subsets", nargs="+", default=["test_model", "test_query"],
                        help="split subsets whose performances become songs")
    parser.add_argument("--snr-db", type=float, default=0.0,
                        help="vocal-to-accompaniment ratio (dB, active RMS)")
    add_seed_argument(parser)


def run(args) -> int:
    songs = write_demo_songs(args.out, vocals=pd.read_parquet(args.vocals),
                             split=pd.read_parquet(args.split),
                             accompaniments=pd.read_parquet(args.accompaniments),
                             subsets=args.subsets, snr_db=args.snr_db, seed=args.seed or 0)
    log.info("%d songs of %d singers in %s", len(songs), songs["singer"].nunique(), args.out)
    return 0
