"""Rebuild a dataset from its recipe (pairs.parquet) and your own copies of the corpora.

Every source file named by the recipe is checked against its sha256 first; a differing file
stops the run with an error naming it.  With the same library versions the shards are
byte-identical to the original ones.  --card takes the mashup/features parameters (and the
card params) from the original card.json; otherwise --params/--features apply.
"""

import dataclasses
import json
import logging
import shutil
from pathlib import Path

import pandas as pd

from ..core.atomic import write_parquet
from ..core.errors import PipelineError
from ..dataset.card import build_card
from ..dataset.features import FeatureParams, mel_settings
from ..mashup.mix import MashupParams, mix_shard
from ..mashup.recipe import vocal_paths_from_recipe
from ..sources.cache import CachedAccompaniments, rebuild_accompaniment_cache
from ._common import add_params_argument, load_params_dict, params_from

log = logging.getLogger(__name__)


def add_arguments(parser):
    parser.add_argument("--recipe", required=True, help="pairs.parquet of the dataset to rebuild")
    parser.add_argument("--vocals-root", required=True, help="root of your vocal corpus copy")
    parser.add_argument("--accompaniments-root", required=True,
                        help="root of your accompaniment corpus copy")
    parser.add_argument("--out", required=True, help="output dataset directory")
    parser.add_argument("--card", default=None, help="the original card.json (parameters)")
    add_params_argument(parser, "mashup")
    parser.add_argument("--features", default="{}", metavar="JSON|@FILE",
                        help="the 'features' config section")


def run(args) -> int:
    card_params, effective = {}, {}
    if args.card:
        path = Path(args.card)
        if not path.exists():
            raise PipelineError(f"{path}: card not found")
        card = json.loads(path.read_text())
        card_params, effective = card.get("params", {}), card.get("effective_params", {})
    mashup = effective.get("mashup") or card_params.get("mashup") or load_params_dict(args.params)
    features = (effective.get("features") or card_params.get("features")
                or load_params_dict(args.features))
    params = params_from(MashupParams, mashup, "mashup")
    feature_params = params_from(FeatureParams, features, "features")
    recipe = pd.read_parquet(args.recipe)
    out = Path(args.out)
    vocal_paths = vocal_paths_from_recipe(recipe, args.vocals_root)
    cache = out / ".accompaniments"
    try:
        tracks, audio = rebuild_accompaniment_cache(recipe, args.accompaniments_root, cache)
        accompaniments = CachedAccompaniments(tracks=[tracks], audio=[audio])
        for k in range(int(recipe["vocal_shard"].max()) + 1 if len(recipe) else 0):
            mix_shard(pairs=recipe, vocal_paths=vocal_paths, accompaniments=accompaniments,
                      shard=k, out=out, params=params, features=feature_params)
    finally:
        shutil.rmtree(cache, ignore_errors=True)
    write_parquet(out / "pairs.parquet", recipe)
    if args.card:
        build_card(out, params=card_params, mel=mel_settings(feature_params),
                   effective_params={"mashup": dataclasses.asdict(params),
                                     "features": dataclasses.asdict(feature_params)})
    log.info("regenerated %s from %s", out, args.recipe)
    return 0
