"""Rank the singers and tracks of an embedded index by similarity to one recording.

The index is a track table written by `embed` with the same model; the recording is
embedded in --domain (for CROSS, a mono query against a mixed index is the cross-domain
search of the paper).
"""

import logging
from pathlib import Path

import pandas as pd

from ..core.errors import PipelineError
from ..evaluate.embed import EmbedParams, embed_files, model_id, rank_index
from ..train.checkpoint import load_model
from ._common import add_params_argument, load_params_dict, params_from

log = logging.getLogger(__name__)


def add_arguments(parser):
    parser.add_argument("--model", required=True,
                        help="model folder (or its model.json / model.pt)")
    parser.add_argument("--index", required=True, help="track Parquet written by `embed`")
    parser.add_argument("--domain", default="mono", choices=["mono", "mixed", "mix"],
                        help="domain of the query recording (default mono)")
    parser.add_argument("--top", type=int, default=10, help="rows of each ranking to print")
    parser.add_argument("file", metavar="FILE", help="the query recording")
    add_params_argument(parser, "embed")


def run(args) -> int:
    params = params_from(EmbedParams, load_params_dict(args.params), "embed")
    if not Path(args.index).exists():
        raise PipelineError(f"{args.index}: index not found")
    index = pd.read_parquet(args.index)
    model = load_model(args.model)
    mid = model_id(model)
    if len(index) and set(index["model_id"]) != {mid}:
        raise PipelineError(f"{args.index}: embedded with another model than {args.model}")
    tracks, _, skipped = embed_files([args.file], model=model, domain=args.domain, params=params)
    if len(tracks) == 0:
        row = skipped.iloc[0]
        raise PipelineError(f"{row.path}: {row.reason} ({row.detail})")
    query_path = str(Path(args.file).resolve())
    index = index[[str(Path(p).resolve()) != query_path for p in index["path"]]]
    ranked_tracks, ranked_singers = rank_index(tracks["embedding"].iloc[0], index)
    pd.set_option("display.width", 160)
    print(f"query: {args.file} ({tracks['n_segments'].iloc[0]} segments, {args.domain})")
    print("\nsingers:")
    print(ranked_singers.head(args.top).to_string(index=False, float_format="%.4f"))
    print("\ntracks:")
    print(ranked_tracks.head(args.top).to_string(index=False, float_format="%.4f"))
    return 0
