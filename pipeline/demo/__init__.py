"""The embedded demo corpus: a DAMP-like a-cappella corpus and a musdb-like accompaniment
corpus, synthesised with full ground truth (``python -m pipeline demo-corpus``).

Layout (see docs/tables.md, "Demo corpus")::

    corpus.json                                   summary; written last (done marker)
    damp/perfs.csv, damp/tempo.csv                DAMP-like metadata and tempo lookup table
    damp/audio/<perf_key>.wav|.m4a                44.1 kHz mono a-cappella performances
    musdb/<split>/<track>/{mixture,drums,bass,other,vocals}.wav   musdb18-HQ, 44.1 kHz stereo
    musdb/<split>/<track>.stem.mp4                musdb18 stems (5 AAC streams)
    truth/vocals.parquet, truth/accompaniments.parquet            ground truth

Modules: ``params`` (DemoParams, presets, random streams), ``plan`` (what the corpus holds:
mashable tempo/key coverage, songs, singers' performances), ``melody`` (songs and their
timelines), ``voice`` (source-filter singing voice), ``channel`` (per-recording channel),
``accompaniment`` (drums, bass, chords), ``instruments`` (guitars, pads, reverb,
compression), ``writers`` (WAV / AAC), ``corpus`` (rendering and
layout).
"""

from .params import SMALL, DemoParams, preset

__all__ = ["DemoParams", "SMALL", "generate_corpus", "preset"]


def __getattr__(name):
    # the renderer (scipy, soxr, PyAV) loads on first use: the workflow reads only the
    # parameters (``params.recipe``) when it parses the rules
    if name == "generate_corpus":
        from .corpus import generate_corpus

        return generate_corpus
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
