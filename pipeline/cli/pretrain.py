"""Pre-train a singer classifier on one domain of a dataset version (paper 3.2.3).

Writes into --out: model.pt, model.json (with the singer list), metrics.json, train_log.csv
and checkpoint.pt (a rerun resumes from it).
"""

import json
import logging

from ..train.loop import TrainParams, pretrain
from ._common import add_params_argument, load_params_dict, params_from

log = logging.getLogger(__name__)


def add_arguments(parser):
    parser.add_argument("--dataset", required=True, help="dataset version directory")
    parser.add_argument("--domain", required=True, choices=["mono", "mix"],
                        help="train on a-cappella (mono) or mixed (mix) segments")
    parser.add_argument("--out", required=True, help="output directory")
    parser.add_argument("--seed", type=int, default=None, help="override the params seed")
    add_params_argument(parser, "train")


def run(args) -> int:
    values = load_params_dict(args.params)
    if args.seed is not None:
        values["seed"] = args.seed
    params = params_from(TrainParams, values, "train")
    metrics = pretrain(args.dataset, args.domain, params, args.out)
    log.info("pretrain %s: %s", args.domain, json.dumps(metrics))
    return 0
