"""Pre-train a singer classifier on one domain of a dataset version (paper 3.2.3).

Writes into --out: model.pt, model.json (with the singer list), metrics.json, train_log.csv
and checkpoint.pt (a rerun resumes from it).
"""

import json
import logging

from ..core.vocabulary import DOMAINS
from ..train.loop import pretrain
from ..train.params import TrainParams
from ._common import (
    add_params_argument,
    add_seed_argument,
    add_threads_argument,
    load_params_dict,
    params_from,
    with_global_seed,
)

log = logging.getLogger(__name__)


def add_arguments(parser):
    parser.add_argument("--dataset", required=True, help="dataset version directory")
    parser.add_argument("--domain", required=True, choices=list(DOMAINS),
                        help="train on a-cappella (mono) or mixed (mix) segments")
    parser.add_argument("--out", required=True, help="output directory")
    add_seed_argument(parser)
    add_threads_argument(parser)
    add_params_argument(parser, "train")


def run(args) -> int:
    values = with_global_seed(load_params_dict(args.params), args.seed)
    if args.threads is not None:
        values["threads"] = args.threads
    params = params_from(TrainParams, values, "train")
    metrics = pretrain(args.dataset, args.domain, params, args.out)
    log.info("pretrain %s: %s", args.domain, json.dumps(metrics))
    return 0
