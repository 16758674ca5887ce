"""Account for every input file: used, or skipped with the stage and reason.

Writes the accounting table (Parquet and CSV) and logs a summary whose counts add up.
"""

import logging
from pathlib import Path

import pandas as pd

from ..core.atomic import write_parquet, write_text
from ..report.accounting import _read_all, account, summary

log = logging.getLogger(__name__)


def add_arguments(parser):
    parser.add_argument("--manifests", required=True, help="manifests folder (vocals, accompaniments, skipped, split)")
    parser.add_argument("--skipped", nargs="*", default=[], help="analysis skipped tables")
    parser.add_argument("--index", required=True, help="the dataset's index.parquet")
    parser.add_argument("--unmatched", help="the join's unmatched.parquet (reasons for "
                                            "performances without a pair)")
    parser.add_argument("--out", required=True, help="accounting.parquet (a .csv is written beside it)")


def run(args) -> int:
    m = Path(args.manifests)
    skipped = _read_all([m / "skipped.parquet", *args.skipped])
    table = account(pd.read_parquet(m / "vocals.parquet"),
                    pd.read_parquet(m / "accompaniments.parquet"), skipped,
                    pd.read_parquet(m / "split.parquet"), pd.read_parquet(args.index),
                    pd.read_parquet(args.unmatched) if args.unmatched else None)
    write_parquet(args.out, table)
    write_text(Path(args.out).with_suffix(".csv"), table.to_csv(index=False))
    counts = summary(table)
    log.info("accounting (%d inputs):\n%s", len(table), counts.to_string(index=False))
    return 0
