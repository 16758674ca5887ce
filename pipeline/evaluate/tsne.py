"""t-SNE maps of test-singer track embeddings, both domains in one map per model (paper Fig. 3)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..core.errors import PipelineError
from ..core.random import rng_for
from .protocol import EvalParams

__all__ = ["tsne_table"]


def tsne_table(tracks_by_model: dict, *, params: EvalParams) -> pd.DataFrame:
    """2-D t-SNE of the track vectors of ``tsne_singers`` unseen singers, both domains.

    ``tracks_by_model`` is ``{name: {"mono": TrackSet, "mix": TrackSet}}``, one t-SNE map per
    model.  Singers are drawn at random (seeded) among the test singers; the first
    ``tsne_highlight`` (sorted) are marked for colour.  Returns columns model, singer,
    perf_id, domain, x, y, highlight.
    """
    from sklearn.manifold import TSNE

    if not tracks_by_model:
        raise PipelineError("tsne_table: no models given")
    first = next(iter(tracks_by_model.values()))["mono"]
    singers = np.sort(np.unique(first.singer))
    chosen = np.sort(rng_for(params.seed, "tsne").choice(
        singers, size=min(params.tsne_singers, len(singers)), replace=False))
    highlight = set(chosen[:params.tsne_highlight].tolist())
    frames = []
    for name, by_domain in tracks_by_model.items():
        parts = [by_domain[d].where(np.isin(by_domain[d].singer, chosen)) for d in ("mono", "mix")]
        vectors = np.concatenate([p.vectors for p in parts])
        n = len(vectors)
        if n < 4:
            raise PipelineError(f"too few tracks ({n}) for a t-SNE of {name}")
        xy = TSNE(n_components=2, perplexity=min(params.tsne_perplexity, (n - 1) / 3),
                  metric="cosine", init="pca", random_state=params.seed).fit_transform(vectors)
        frames.append(pd.DataFrame({
            "model": name,
            "singer": np.concatenate([p.singer for p in parts]),
            "perf_id": np.concatenate([p.perf_id for p in parts]),
            "domain": np.repeat(["mono", "mix"], [len(p.perf_id) for p in parts]),
            "x": xy[:, 0], "y": xy[:, 1]}))
    table = pd.concat(frames, ignore_index=True)
    table["highlight"] = table["singer"].isin(highlight)
    return table
