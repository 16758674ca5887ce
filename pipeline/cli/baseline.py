"""GMM-UBM baseline (13 MFCCs, 256-component diagonal UBM, MAP-adapted means) on unseen singers.

Writes --out (Parquet, CSV beside it) in the metrics table format, model "GMM-UBM".
"""

import logging

from ..evaluate.gmm_ubm import evaluate_gmm_ubm
from ..evaluate.protocol import SCENARIOS
from ._common import add_params_argument, add_seed_argument, eval_params, write_table

log = logging.getLogger(__name__)


def add_arguments(parser):
    parser.add_argument("--dataset", required=True, help="dataset version directory")
    parser.add_argument("--out", required=True, help="output Parquet file")
    parser.add_argument("--scenarios", nargs="*", default=list(SCENARIOS),
                        choices=list(SCENARIOS), help="scenarios to evaluate (default: all)")
    add_seed_argument(parser)
    add_params_argument(parser, "evaluate")


def run(args) -> int:
    params = eval_params(args)
    table = evaluate_gmm_ubm(args.dataset, params=params, scenarios=args.scenarios)
    write_table(args.out, table)
    log.info("GMM-UBM top-1: %s", table[table["metric"] == "top1"]
             .set_index("scenario")["value"].round(3).to_dict())
    return 0
