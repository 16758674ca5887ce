"""Aggregate a dataset directory's index shards into index.parquet and write card.json.

--params is the JSON object of every data-changing config section (seed, sources, ...,
mashup, features); its hash is the card's version.
"""

import dataclasses
import logging

from ..core.errors import ConfigError
from ..dataset.card import build_card
from ..dataset.features import FeatureParams, mel_settings
from ..dataset.shards import shard_numbers
from ..mashup.mix import MashupParams
from ._common import load_params_dict, params_from

log = logging.getLogger(__name__)


def add_arguments(parser):
    parser.add_argument("dataset", help="dataset directory (datasets/<version>)")
    parser.add_argument("--params", default="{}", metavar="JSON|@FILE",
                        help="the data-changing config sections as one JSON object")
    parser.add_argument("--shards", nargs="+", default=None, metavar="FILE",
                        help="this version's shard files (default: every shard in the folder)")


def run(args) -> int:
    params = load_params_dict(args.params)
    sections = {}
    for name, cls in (("mashup", MashupParams), ("features", FeatureParams)):
        given = params.get(name) or {}
        if not isinstance(given, dict):
            raise ConfigError(f"card --params: '{name}' must be an object")
        sections[name] = params_from(cls, given, name)
    shards = shard_numbers(args.shards) if args.shards else None
    card = build_card(args.dataset, params=params, mel=mel_settings(sections["features"]),
                      effective_params={k: dataclasses.asdict(v) for k, v in sections.items()},
                      shards=shards)
    log.info("card %s: %d segments, version %s", args.dataset, card["counts"]["all"]["segments"],
             card["version"])
    return 0
