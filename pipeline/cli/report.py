"""Build the self-contained HTML evaluation report (figures embedded) and the figure files.

Reads the metrics tables (embedding models and baselines), the SNR sweep, the track embeddings
(t-SNE of MIXED and CROSS, computed here), the dataset card and index, and the accounting
table; writes --out (HTML) and the figures as PNG and SVG into --figures.
"""

import json
import logging
from pathlib import Path

import pandas as pd

from ..core.atomic import write_json
from ..core.errors import PipelineError
from ..evaluate.protocol import summary, tracks_from_table
from ..evaluate.tsne import tsne_table
from ..report.html import write_report
from ..report.songs import songs_section
from ._common import add_params_argument, add_seed_argument, eval_params, write_table

log = logging.getLogger(__name__)

TSNE_MODELS = ("MIXED", "CROSS")


def add_arguments(parser):
    parser.add_argument("--metrics", nargs="+", required=True, help="metrics tables (Parquet)")
    parser.add_argument("--baseline", nargs="*", default=[], help="baseline tables (Parquet)")
    parser.add_argument("--snr", help="SNR sweep table (Parquet)")
    parser.add_argument("--embeddings", help="track_embeddings.parquet (for the t-SNE)")
    parser.add_argument("--dataset", help="dataset version directory (card.json, index.parquet)")
    parser.add_argument("--accounting", help="accounting table (Parquet)")
    parser.add_argument("--songs", nargs="*", default=[],
                        help="song evaluation metrics (evaluate-songs' metrics.parquet; its "
                             "songs.parquet beside it gives the counts)")
    parser.add_argument("--out", required=True, help="report HTML path")
    parser.add_argument("--figures", help="figure directory (default: figures/ beside --out)")
    parser.add_argument("--combined", metavar="PREFIX",
                        help="also write all metrics as PREFIX.parquet, PREFIX.csv, PREFIX.json")
    parser.add_argument("--title", default="DAMP-Mash evaluation", help="report title")
    add_seed_argument(parser)
    add_params_argument(parser, "evaluate")


def _read(path, columns=None):
    if not Path(path).exists():
        raise PipelineError(f"{path}: not found")
    return pd.read_parquet(path, columns=columns)


def _dataset_parts(dataset):
    if dataset is None:
        return None, None
    card_path = Path(dataset) / "card.json"
    card = json.loads(card_path.read_text()) if card_path.exists() else None
    index_path = Path(dataset) / "index.parquet"
    index = None
    if index_path.exists():
        import pyarrow.parquet as pq

        names = set(pq.read_schema(index_path).names)
        index = _read(index_path, [c for c in ("subset", "snr_db") if c in names])
    return card, index


def _songs_section(path, interval: str) -> str:
    table = _read(path)
    songs_path = Path(path).with_name("songs.parquet")
    counts = {}
    if songs_path.exists():
        songs = _read(songs_path)
        counts = {"n_songs": len(songs), "n_singers": int(songs["singer"].nunique())}
    return songs_section(table, interval=interval, **counts)


def run(args) -> int:
    params = eval_params(args)
    metrics = pd.concat([_read(p) for p in [*args.metrics, *args.baseline]], ignore_index=True)
    tsne = None
    if args.embeddings:
        tracks = tracks_from_table(_read(args.embeddings))
        chosen = {name: by_domain for (name, pretrained), by_domain in tracks.items()
                  if pretrained and name in TSNE_MODELS}
        tsne = tsne_table(chosen, params=params) if chosen else None
    card, index = _dataset_parts(args.dataset)
    accounting = _read(args.accounting) if args.accounting else None
    figures_dir = Path(args.figures) if args.figures else Path(args.out).parent / "figures"
    sections = tuple(_songs_section(p, params.bootstrap.describe()) for p in args.songs)
    made = write_report(args.out, metrics=metrics, figures_dir=figures_dir,
                        snr=_read(args.snr) if args.snr else None, tsne=tsne, card=card,
                        index=index, accounting=accounting, title=args.title,
                        interval=params.bootstrap.describe(), extra_sections=sections)
    if args.combined:
        write_table(Path(args.combined), metrics)
        write_json(Path(args.combined).with_suffix(".json"), summary(metrics))
    log.info("report %s with figures %s", args.out, sorted(made))
    return 0
