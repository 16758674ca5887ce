"""Evaluate embedding models on unseen singers: identification and query-by-singer metrics.

With --dataset, --out is a directory receiving metrics.parquet / metrics.csv (model, pretrained,
scenario, metric, value, n; with the random baseline and the chance levels), summary.json and
track_embeddings.parquet (every test track vector of every model and domain).
With --snr-datasets (the SNR sweep: Mix2Mix and Mono2Mix at each ratio), --out is one Parquet
file (CSV beside it) with an extra snr_db column.
A model's kind and initialisation (pre-trained or scratch) come from its model.json.
"""

import logging
import re
from functools import partial
from pathlib import Path

from ..core.atomic import write_json, write_parquet
from ..core.errors import ConfigError
from ..evaluate.models import load_models
from ..evaluate.protocol import (
    embed_models,
    evaluate_snr,
    metrics_table,
    summary,
    track_labels,
    track_table,
    unseen_segments,
)
from ._common import (
    add_params_argument,
    add_seed_argument,
    eval_params,
    write_table,
)

log = logging.getLogger(__name__)



def add_arguments(parser):
    # Let "-5=DIR" be a value (a negative ratio), not an unknown option.
    parser._negative_number_matcher = re.compile(r"^-\d+(\.\d+)?(=.*)?$")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--dataset", help="dataset version directory")
    source.add_argument("--snr-datasets", nargs="+", metavar="DB=DIR",
                        help="test datasets regenerated at DB dB vocal-to-accompaniment ratio")
    parser.add_argument("--models", nargs="*", default=[], metavar="MODEL",
                        help="model folders or their model.pt / model.json")
    parser.add_argument("--out", required=True,
                        help="output directory (--dataset) or Parquet file (--snr-datasets)")
    add_seed_argument(parser)
    add_params_argument(parser, "evaluate")


def load_embedders(paths) -> dict:
    """``{(name, pretrained): embed_fn}`` from model files, named by their kind."""
    from ..train.model import embed_mels

    return {key: partial(embed_mels, model) for key, model in load_models(paths).items()}


def parse_snr_datasets(values) -> dict:
    out = {}
    for value in values:
        snr, _, path = value.partition("=")
        try:
            out[float(snr)] = path
        except ValueError:
            path = ""
        if not path:
            raise ConfigError(f"--snr-datasets expects DB=DIR, got {value!r}")
    return out


def run(args) -> int:
    params = eval_params(args)
    models = load_embedders(args.models)
    if args.snr_datasets:
        table = evaluate_snr(parse_snr_datasets(args.snr_datasets), models, params=params)
        write_table(Path(args.out), table)
        log.info("SNR sweep written to %s", args.out)
        return 0
    out = Path(args.out)
    rows = unseen_segments(args.dataset, params=params)
    tracks = embed_models(args.dataset, models, params=params)
    table = metrics_table(tracks, params=params, labels=track_labels(rows))
    write_table(out / "metrics.parquet", table)
    write_json(out / "summary.json", summary(table))
    write_parquet(out / "track_embeddings.parquet", track_table(tracks))
    log.info("evaluation written to %s", out)
    return 0
