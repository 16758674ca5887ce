"""Check the paper's orderings of singer-ID top-1 accuracy on a run's metrics (issue 16).

Reads a run's metrics table, joined with its baseline table by + (as compare-runs does:
results/evaluation/<version>/metrics.parquet+results/evaluation/<version>/baseline.parquet),
prints its top-1 table with intervals and one line per ordering, "holds" or "FAILS", each
demanded with --margin accuracy points.  With --require the exit status is 1 when one fails.
"""

import logging

from ..report.orderings import failing, orderings
from ..report.runs import interval_markdown, read_metrics

log = logging.getLogger(__name__)


def add_arguments(parser):
    parser.add_argument("table", metavar="METRICS[+BASELINE]",
                        help="a run's metrics table (.parquet or .csv), its baseline table "
                             "joined with +")
    parser.add_argument("--margin", type=float, default=0.0,
                        help="accuracy points (0-1) each ordering must clear (default 0)")
    parser.add_argument("--require", action="store_true",
                        help="exit with status 1 when an ordering fails")


def run(args) -> int:
    import pandas as pd

    table = pd.concat([read_metrics(p) for p in args.table.split("+")], ignore_index=True)
    print(interval_markdown(table, "top1"), end="")
    checks = orderings(table, margin=args.margin)
    for check in checks:
        print(check.text())
    failed = failing(checks)
    return 1 if args.require and failed else 0
