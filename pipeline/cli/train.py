"""Train a MONO, MIXED or CROSS embedding model with the hinge rank loss (paper 3.2.2).

From scratch, or from pre-trained classifiers (--init-mono / --init-mix: MONO takes the mono
classifier, MIXED the mix one, CROSS both).  Writes into --out: model.pt, model.json,
metrics.json, train_log.csv and checkpoint.pt (a rerun resumes from it).
"""

import json
import logging

from ..core.errors import ConfigError
from ..train.loop import TrainParams, fit
from ._common import add_params_argument, load_params_dict, params_from

log = logging.getLogger(__name__)


def add_arguments(parser):
    parser.add_argument("--dataset", required=True, help="dataset version directory")
    parser.add_argument("--kind", required=True, choices=["mono", "mixed", "cross"],
                        help="which model: inputs a-cappella, mixed, or a-cappella anchors "
                             "against mixed positives and negatives")
    parser.add_argument("--init-mono", default=None, metavar="DIR",
                        help="pre-trained mono classifier (MONO, CROSS)")
    parser.add_argument("--init-mix", default=None, metavar="DIR",
                        help="pre-trained mix classifier (MIXED, CROSS)")
    parser.add_argument("--out", required=True, help="output directory")
    parser.add_argument("--seed", type=int, default=None, help="override the params seed")
    add_params_argument(parser, "train")


def init_argument(kind: str, init_mono, init_mix):
    """The ``init`` of ``fit`` from the two flags (None: from scratch)."""
    given = {name: path for name, path in (("mono", init_mono), ("mix", init_mix)) if path}
    if not given:
        return None
    needed = {"mono": {"mono"}, "mixed": {"mix"}, "cross": {"mono", "mix"}}[kind]
    if set(given) != needed:
        flags = " and ".join(f"--init-{n}" for n in sorted(needed))
        raise ConfigError(f"a {kind} model from pre-training takes {flags}")
    return given


def run(args) -> int:
    values = load_params_dict(args.params)
    if args.seed is not None:
        values["seed"] = args.seed
    params = params_from(TrainParams, values, "train")
    init = init_argument(args.kind, args.init_mono, args.init_mix)
    metrics = fit(args.dataset, args.kind, params, args.out, init=init)
    log.info("train %s: %s", args.kind, json.dumps(metrics))
    return 0
