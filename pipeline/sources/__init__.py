"""Corpus adapters: turn a vocal or accompaniment corpus on disk into a manifest.

One module per corpus family (``vocals`` for DAMP / demo / folder / manifest, ``accompaniments``
for musdb18 / musdb18-HQ / folder / demo); ``manifest`` probes files and assigns shards.
"""

from .accompaniments import load_accompaniment

__all__ = ["load_accompaniment"]
