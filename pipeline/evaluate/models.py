"""Loading the trained models an evaluation compares, keyed by (name, pre-trained)."""

from __future__ import annotations

from pathlib import Path

from ..core.errors import PipelineError
from ..core.vocabulary import MODEL_NAMES

__all__ = ["is_pretrained", "load_models"]


def is_pretrained(model, path) -> bool:
    """From model.json (train metrics, else a non-empty ``init``), else the folder name."""
    info = getattr(model, "info", {}) or {}
    if "pretrained" in info.get("metrics", {}):
        return bool(info["metrics"]["pretrained"])
    if "init" in info:
        return bool(info["init"])
    return not Path(path).resolve().parent.name.endswith("scratch")


def load_models(paths) -> dict:
    """``{(name, pretrained): EmbeddingModel}`` from model files, named by their kind.

    Raises
    ------
    PipelineError
        A model that is not an embedding model, or a second model with the same key.
    """
    from ..train.checkpoint import load_model

    models = {}
    for path in paths:
        model = load_model(path)
        name = MODEL_NAMES.get(model.kind)
        if name is None:
            raise PipelineError(f"{path}: a {model.kind!r} model is not an embedding model")
        key = (name, is_pretrained(model, path))
        if key in models:
            raise PipelineError(f"{path}: a second {name} model (pretrained={key[1]})")
        models[key] = model
    return models
