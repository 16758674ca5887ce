"""Account for every input file: used, or skipped with the stage and reason.

Writes the accounting table (Parquet and CSV) and logs a summary whose counts add up.
"""

import logging
from pathlib import Path

import pandas as pd

from ..core.atomic import write_parquet, write_text
from ..report.accounting import account, read_tables, summary

log = logging.getLogger(__name__)


def add_arguments(parser):
    parser.add_argument("--vocals", required=True, help="manifests/vocals.parquet")
    parser.add_argument("--accompaniments", required=True, help="manifests/accompaniments.parquet")
    parser.add_argument("--split", required=True, help="datasets/<version>/split.parquet (drawn by the join)")
    parser.add_argument("--skipped", nargs="*", default=[],
                        help="skipped tables: the ingest's manifests/skipped.parquet and the "
                             "analysis shards' {k}.skipped.parquet")
    parser.add_argument("--index", required=True, help="the dataset's index.parquet")
    parser.add_argument("--unmatched", help="the join's unmatched.parquet (reasons for "
                                            "performances without a pair)")
    parser.add_argument("--mix-skipped", nargs="*", default=[],
                        help="the mix stage's skipped-NNNNNN.parquet tables (segments that "
                             "could not be mixed)")
    parser.add_argument("--out", required=True, help="accounting.parquet (a .csv is written beside it)")


def run(args) -> int:
    skipped = read_tables(args.skipped)
    table = account(pd.read_parquet(args.vocals), pd.read_parquet(args.accompaniments), skipped,
                    pd.read_parquet(args.split), pd.read_parquet(args.index),
                    pd.read_parquet(args.unmatched) if args.unmatched else None,
                    read_tables(args.mix_skipped))
    write_parquet(args.out, table)
    write_text(Path(args.out).with_suffix(".csv"), table.to_csv(index=False))
    counts = summary(table)
    log.info("accounting (%d inputs):\n%s", len(table), counts.to_string(index=False))
    return 0
