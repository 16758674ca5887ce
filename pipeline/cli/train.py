"""Train a MONO, MIXED or CROSS embedding model with the hinge rank loss (paper 3.2.2).

From scratch, or from pre-trained classifiers (--init DIR..., each classifier's model.json
naming its domain; or --init-mono / --init-mix): MONO takes the mono classifier, MIXED the mix
one, CROSS both.  Writes into --out: model.pt, model.json,
metrics.json, train_log.csv and checkpoint.pt (a rerun resumes from it).
"""

import json
import logging
from pathlib import Path

from ..core.errors import ConfigError, PipelineError
from ..core.vocabulary import KINDS, pretraining_domains
from ..train.loop import fit
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
    parser.add_argument("--kind", required=True, choices=list(KINDS),
                        help="which model: inputs a-cappella, mixed, or a-cappella anchors "
                             "against mixed positives and negatives")
    parser.add_argument("--init", nargs="+", default=[], metavar="DIR",
                        help="pre-trained classifier folders; each one's model.json names its "
                             "domain (MONO: mono, MIXED: mix, CROSS: both)")
    parser.add_argument("--init-mono", default=None, metavar="DIR",
                        help="pre-trained mono classifier (MONO, CROSS)")
    parser.add_argument("--init-mix", default=None, metavar="DIR",
                        help="pre-trained mix classifier (MIXED, CROSS)")
    parser.add_argument("--out", required=True, help="output directory")
    add_seed_argument(parser)
    add_threads_argument(parser)
    add_params_argument(parser, "train")


def classifier_domain(folder) -> str:
    """The domain a pre-trained classifier folder's model.json names."""
    path = Path(folder) / "model.json"
    if not path.exists():
        raise PipelineError(f"{path}: not found (--init takes pre-trained classifier folders)")
    info = json.loads(path.read_text())
    if info.get("kind") != "classifier" or "domain" not in info:
        raise PipelineError(f"{path}: not a pre-trained classifier")
    return info["domain"]


def init_argument(kind: str, init_mono, init_mix, init=()):
    """The ``init`` of ``fit`` from the flags (None: from scratch)."""
    given = {name: path for name, path in (("mono", init_mono), ("mix", init_mix)) if path}
    for folder in init:
        domain = classifier_domain(folder)
        if domain in given:
            raise ConfigError(f"two pre-trained {domain} classifiers: {given[domain]}, {folder}")
        given[domain] = folder
    if not given:
        return None
    needed = set(pretraining_domains(kind))
    if set(given) != needed:
        flags = " and ".join(f"--init-{n}" for n in sorted(needed))
        raise ConfigError(f"a {kind} model from pre-training takes {flags}")
    return given


def run(args) -> int:
    values = with_global_seed(load_params_dict(args.params), args.seed)
    if args.threads is not None:
        values["threads"] = args.threads
    params = params_from(TrainParams, values, "train")
    init = init_argument(args.kind, args.init_mono, args.init_mix, args.init)
    metrics = fit(args.dataset, args.kind, params, args.out, init=init)
    log.info("train %s: %s", args.kind, json.dumps(metrics))
    return 0
