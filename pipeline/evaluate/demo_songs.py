"""Mixed songs of known singers made from a corpus, laid out as a user's songs would be.

Each performance of the chosen subsets (by default the unseen singers') is mixed whole with
an accompaniment of the corpus's test split (drums + bass + other), repeated to the vocal's
length, at ``snr_db`` active-RMS ratio (``mashup.mixing.mix_pair``), and written as
``<out>/<singer>/<perf_id>.wav`` (16-bit PCM, 22,050 Hz).  The accompaniment of each
performance is drawn with ``rng_for(seed, "demo-songs", perf_id)``: the files are the same on
any machine.  This is how ``songs.path: demo`` gives the song evaluation something to run on,
and how the tests and ``bench/bench_transfer.py`` lay out songs.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd

from ..core.atomic import atomic_path
from ..core.audio import load_audio
from ..core.errors import PipelineError
from ..core.random import rng_for
from ..core.segment import SAMPLE_RATE
from ..core.tables import SONGS
from ..mashup.mixing import mix_pair
from ..sources.accompaniments import load_accompaniment

__all__ = ["fit_length", "mix_song", "write_demo_songs", "write_wav"]

log = logging.getLogger(__name__)


def fit_length(y: np.ndarray, n: int) -> np.ndarray:
    """``y`` repeated (or cut) to exactly ``n`` samples."""
    y = np.asarray(y, dtype=np.float32)
    if len(y) == 0:
        raise PipelineError("fit_length: empty signal")
    return np.resize(y, n)


def mix_song(vocal: np.ndarray, accompaniment: np.ndarray, *, snr_db: float = 0.0
             ) -> np.ndarray:
    """A whole vocal over the accompaniment (repeated to its length) at ``snr_db``."""
    return mix_pair(vocal, fit_length(accompaniment, len(vocal)), snr_db=snr_db).mix


def write_wav(path, y: np.ndarray, sr: int = SAMPLE_RATE) -> None:
    """Write 16-bit PCM WAV atomically."""
    import soundfile as sf

    with atomic_path(path) as tmp:
        sf.write(str(tmp), np.clip(y, -1.0, 1.0), sr, subtype="PCM_16", format="WAV")


def write_demo_songs(out_dir, *, vocals: pd.DataFrame, split: pd.DataFrame,
                     accompaniments: pd.DataFrame, subsets=("test_model", "test_query"),
                     snr_db: float = 0.0, seed: int = 0) -> pd.DataFrame:
    """Write the songs; return their table (``core.tables.SONGS``: path, singer, song).

    Parameters
    ----------
    vocals, accompaniments : the ingest manifests (``manifests/*.parquet``)
    split : the singer split (id, singer, subset)
    subsets : the split subsets whose performances become songs
    """
    chosen = split[split["subset"].isin(list(subsets))]
    perfs = vocals[vocals["id"].isin(chosen["id"])].sort_values("id", kind="stable")
    accs = accompaniments[accompaniments["split"] == "test"].sort_values("id", kind="stable")
    if accs.empty:
        accs = accompaniments.sort_values("id", kind="stable")
    if perfs.empty or accs.empty:
        raise PipelineError(f"no performances of {list(subsets)} or no accompaniments to mix")
    cache: dict = {}
    rows = []
    for perf in perfs.itertuples(index=False):
        pick = int(rng_for(seed, "demo-songs", perf.id).integers(len(accs)))
        acc = accs.iloc[pick]
        if acc["id"] not in cache:
            cache[acc["id"]] = load_accompaniment(acc)
        path = Path(out_dir) / str(perf.singer) / f"{perf.id}.wav"
        write_wav(path, mix_song(load_audio(perf.path), cache[acc["id"]], snr_db=snr_db))
        rows.append({"path": str(path), "singer": str(perf.singer), "song": perf.id})
    log.info("wrote %d demo songs of %d singers to %s", len(rows),
             perfs["singer"].nunique(), out_dir)
    return pd.DataFrame(rows, columns=list(SONGS)).astype(SONGS)
