"""Embed audio files with a trained model: segment and track vectors to Parquet.

Writes OUT (one row per track: path, track, singer, domain, n_segments, model_id,
embedding), OUT's sibling <name>.segments.parquet (one row per segment, with its start in
samples) and <name>.skipped.parquet (files that could not be used, with the reason).
"""

import logging

import pandas as pd

from ..analysis.stage import analysis_params
from ..core.atomic import write_parquet
from ..core.errors import PipelineError
from ..evaluate.embed import EmbedParams, audio_files, embed_files, sidecar_paths
from ..train.checkpoint import load_model
from ._common import add_params_argument, load_params_dict, params_from

log = logging.getLogger(__name__)


def add_arguments(parser):
    parser.add_argument("--model", required=True,
                        help="model folder (or its model.json / model.pt)")
    parser.add_argument("--domain", required=True, choices=["mono", "mixed", "mix"],
                        help="a-cappella recordings (mono) or music mixes (mixed)")
    parser.add_argument("--out", required=True, help="output Parquet of track embeddings")
    parser.add_argument("--singer", default="", help="singer label for every file")
    parser.add_argument("--labels", default=None, metavar="CSV",
                        help="CSV with columns path,singer (overrides --singer per file)")
    parser.add_argument("--analysis-params", default="{}", metavar="JSON|@FILE",
                        help='the analysis sections {"svd": ..., "tempo": ...} (mono windows are '
                             "cut as the dataset's; default: the defaults)")
    parser.add_argument("--tempo-bpm", type=float, default=None,
                        help="the tempo of every mono file, as a tempo table gives it "
                             "(default: estimated from the audio)")
    parser.add_argument("files", nargs="+", metavar="FILE", help="audio files or folders")
    add_params_argument(parser, "embed")


def read_labels(path) -> dict:
    table = pd.read_csv(path, dtype=str)
    if not {"path", "singer"} <= set(table.columns):
        raise PipelineError(f"{path}: needs columns path,singer")
    return dict(zip(table["path"], table["singer"].fillna("")))


def run(args) -> int:
    params = params_from(EmbedParams, load_params_dict(args.params), "embed")
    svd, _, tempo = analysis_params(load_params_dict(args.analysis_params))  # keys: unused
    files = audio_files(args.files)
    singers = {str(f): args.singer for f in files}
    if args.labels:
        singers.update(read_labels(args.labels))
    model = load_model(args.model)
    tempi = {str(f): args.tempo_bpm for f in files} if args.tempo_bpm else None
    tracks, segments, skipped = embed_files(files, model=model, domain=args.domain,
                                            params=params, svd=svd, tempo=tempo,
                                            singers=singers, tempi=tempi)
    segments_path, skipped_path = sidecar_paths(args.out)
    write_parquet(segments_path, segments)
    write_parquet(skipped_path, skipped)
    write_parquet(args.out, tracks)
    log.info("embedded %d tracks (%d segments); skipped %d files", len(tracks), len(segments),
             len(skipped))
    for row in skipped.itertuples():
        log.warning("skipped %s: %s %s", row.path, row.reason, row.detail)
    return 0
