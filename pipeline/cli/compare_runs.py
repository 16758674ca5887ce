"""Spread of the metrics over repeated runs (e.g. seeds): mean, sd, min and max per cell.

Reads one metrics table per run (metrics.parquet or metrics.csv of `evaluate`; a run's baseline
table may be joined with +), writes --out (Parquet, CSV beside it; see docs/tables.md) and
prints a Markdown table of --metric for a README: "mean ± sd (min-max)" over the runs, or, for
a single run, each value with its bootstrap interval "value [ci_low, ci_high]".
"""

import logging

from ..report.runs import interval_markdown, read_metrics, run_spread, spread_markdown
from ._common import write_table

log = logging.getLogger(__name__)


def add_arguments(parser):
    parser.add_argument("tables", nargs="+", metavar="METRICS",
                        help="metrics tables of the runs (.parquet or .csv), one per run; "
                             "a run's baseline table may follow as RUN_METRICS+BASELINE")
    parser.add_argument("--out", help="spread table (Parquet; CSV beside it)")
    parser.add_argument("--metric", default="top1", help="metric of the printed table")


def _read_run(spec):
    import pandas as pd

    return pd.concat([read_metrics(p) for p in spec.split("+")], ignore_index=True)


def run(args) -> int:
    tables = [_read_run(spec) for spec in args.tables]
    spread = run_spread(tables)
    if args.out:
        write_table(args.out, spread)
        log.info("spread over %d runs written to %s", len(tables), args.out)
    if len(tables) == 1:
        print(interval_markdown(tables[0], args.metric), end="")
    else:
        print(spread_markdown(spread, args.metric), end="")
    return 0
