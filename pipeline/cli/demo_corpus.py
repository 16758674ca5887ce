"""Synthesise the demo corpus: DAMP-like vocals, musdb-like accompaniments, ground truth.

Writes the layout of docs/tables.md ("Demo corpus") under --out: a-cappella performances
(WAV and AAC .m4a) with DAMP metadata and a tempo table, accompaniments in the musdb18-HQ
and musdb18 .stem.mp4 layouts, and truth tables; corpus.json is written last.
"""

import logging

from ..demo import SMALL, DemoParams, generate_corpus
from ._common import add_params_argument, load_params_dict, params_from

log = logging.getLogger(__name__)


def add_arguments(parser):
    parser.add_argument("--out", required=True, help="corpus root folder")
    parser.add_argument("--small", action="store_true",
                        help="the small preset for tests (12 singers, 6 short tracks)")
    parser.add_argument("--seed", type=int, default=None,
                        help="global seed (default: params' seed, 1234)")
    parser.add_argument("--workers", type=int, default=2,
                        help="worker processes (does not change the output)")
    add_params_argument(parser, "demo.params")


def run(args) -> int:
    values = {**(SMALL if args.small else {}), **load_params_dict(args.params)}
    if args.seed is not None:
        values["seed"] = args.seed
    params = params_from(DemoParams, values, "demo.params")
    summary = generate_corpus(args.out, params, workers=max(1, args.workers))
    log.info("%d performances (%.0f s), %d tracks (%.0f s)", summary["performances"],
             summary["vocal_seconds"], summary["tracks"], summary["accompaniment_seconds"])
    return 0
