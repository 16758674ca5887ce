"""Singer identification on songs of known singers (<singer>/<song>.<ext> or a CSV).

Every model embeds each song's windows with its mixed-track branch; track vectors are means
of unit window embeddings; leave-one-out nearest singer centroid gives top-1 and top-5 with
chance, beside an MFCC mean+std baseline (protocol: pipeline/evaluate/songs.py).  --out is a
directory receiving metrics.parquet (the metrics table, scenario "Songs"), predictions.parquet,
songs.parquet (the songs embedded) and skipped.parquet, each with a CSV beside it.
"""

import logging
from pathlib import Path

from ..core.errors import ConfigError, PipelineError
from ..evaluate.models import load_models
from ..evaluate.songs import SongsParams, embed_songs, read_songs, songs_table
from ._common import (
    add_params_argument,
    add_seed_argument,
    load_params_dict,
    params_from,
    with_global_seed,
    write_table,
)

log = logging.getLogger(__name__)


def add_arguments(parser):
    parser.add_argument("--songs", help="song folder or CSV (default: the params' path)")
    parser.add_argument("--models", nargs="*", default=[], metavar="MODEL",
                        help="model folders or their model.pt / model.json")
    parser.add_argument("--out", required=True, help="output directory")
    parser.add_argument("--no-mfcc", action="store_true", help="skip the MFCC baseline")
    parser.add_argument("--evaluate-params", default="{}", metavar="JSON|@FILE",
                        help="the 'evaluate' config section (bootstrap_resamples, ci_level, "
                             "seed)")
    add_seed_argument(parser)
    add_params_argument(parser, "songs")


def run(args) -> int:
    from ..evaluate.protocol import EvalParams

    params = params_from(SongsParams, load_params_dict(args.params), "songs")
    evaluate = params_from(EvalParams, with_global_seed(load_params_dict(args.evaluate_params),
                                                        args.seed), "evaluate")
    source = args.songs or params.path
    if not source:
        raise ConfigError("evaluate-songs: no songs given (--songs or songs.path)")
    songs = read_songs(source)
    vectors, kept, skipped = embed_songs(songs, load_models(args.models), params=params,
                                         mfcc=not args.no_mfcc)
    if kept.empty:
        raise PipelineError(f"{source}: none of the {len(songs)} songs could be used "
                            f"(first: {skipped.iloc[0].to_dict()})")
    table, predictions = songs_table(kept, vectors, boot=evaluate.bootstrap)
    out = Path(args.out)
    write_table(out / "metrics.parquet", table)
    write_table(out / "predictions.parquet", predictions)
    write_table(out / "songs.parquet", kept)
    write_table(out / "skipped.parquet", skipped)
    main = table[(table["metric"] == "top1") & (table["pretrained"] | ~table["model"].isin(
        ["MONO", "MIXED", "CROSS"]))]
    top1 = main.set_index("model")["value"].round(3).to_dict()
    log.info("%d songs of %d singers (%d skipped); top-1 %s", len(kept),
             kept["singer"].nunique(), len(skipped), top1)
    return 0
