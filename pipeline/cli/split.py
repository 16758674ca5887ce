"""Split singers into training and unseen test singers from the manifest alone.

Writes a table id, singer, subset (train, valid, test_model, test_query, unused), assuming every
performance reaches the dataset; the DAG's join draws its split among the performances it pairs
(``join --split-params``), and takes a table from here with ``join --split``.
"""

import logging

import pandas as pd

from ..core.atomic import write_parquet
from ..sources.split import SplitParams, split_singers
from ._common import add_params_argument, load_params_dict, params_from

log = logging.getLogger(__name__)


def add_arguments(parser):
    parser.add_argument("--manifest", required=True, help="manifests/vocals.parquet")
    parser.add_argument("--out", required=True, help="output Parquet (split table)")
    parser.add_argument("--seed", type=int, default=1234, help="global seed")
    add_params_argument(parser, "split")


def run(args) -> int:
    params = params_from(SplitParams, load_params_dict(args.params), "split")
    table = split_singers(pd.read_parquet(args.manifest), params, args.seed)
    write_parquet(args.out, table)
    counts = table.groupby("subset")["singer"].agg(["nunique", "size"])
    log.info("split:\n%s", counts.to_string())
    return 0
