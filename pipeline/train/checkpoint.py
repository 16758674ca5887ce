"""Model files: ``model.pt`` (state dict) and ``model.json`` (self-description), loading,
and initialising an embedding model from pre-trained classifiers.

A model folder is self-describing: ``model.json`` holds kind, architecture, networks,
normalisation, mel settings and training info, so ``load_model`` needs nothing else.
"""

from __future__ import annotations

import dataclasses
import io
import json
from pathlib import Path

import torch

from ..core.atomic import write_bytes, write_json
from ..core.errors import ConfigError, PipelineError
from ..core.vocabulary import DOMAINS
from .model import EmbeddingModel, ModelConfig
from .params import CROSS_INITS

__all__ = ["init_from_classifiers", "load_model", "save_model", "save_torch"]


def save_torch(path, obj) -> None:
    """``torch.save`` atomically, byte-identical for equal objects.

    Saving through a buffer keeps the temporary file's name out of the archive.
    """
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    write_bytes(path, buffer.getvalue())


def save_model(model: EmbeddingModel, out_dir, info: dict) -> None:
    """Write ``out_dir/model.pt`` (state dict) then ``out_dir/model.json`` (self-description).

    ``info`` adds to the description (mel settings, dataset version, singers, training);
    kind, architecture, domain and normalisation are filled from ``model``.
    """
    out_dir = Path(out_dir)
    save_torch(out_dir / "model.pt", model.state_dict())
    description = dict(info, format=1, kind=model.kind, networks=list(model.networks),
                       config=dataclasses.asdict(model.config),
                       normalisation={d: {"mean": float(getattr(model, f"{d}_mean")),
                                          "std": float(getattr(model, f"{d}_std"))}
                                      for d in DOMAINS})
    if model.kind == "classifier":
        description["domain"] = next(iter(model.networks))
    write_json(out_dir / "model.json", description)


def load_model(path, *, device: str = "cpu") -> EmbeddingModel:
    """Load a saved model in eval mode; ``path`` is its folder, model.json or model.pt.

    The returned model carries its description as ``model.info`` (a dict).
    """
    path = Path(path)
    folder = path if path.is_dir() else path.parent
    json_path, pt_path = folder / "model.json", folder / "model.pt"
    for p in (json_path, pt_path):
        if not p.exists():
            raise PipelineError(f"{p}: model file not found")
    info = json.loads(json_path.read_text())
    try:
        model = EmbeddingModel(info["kind"], ModelConfig(**info["config"]),
                               normalisation=info["normalisation"],
                               n_singers=len(info.get("singers") or ()), domain=info.get("domain"))
        model.load_state_dict(torch.load(pt_path, map_location="cpu", weights_only=True))
    except (KeyError, TypeError, ValueError, RuntimeError) as exc:
        raise PipelineError(f"{folder}: not a usable model ({exc})") from None
    model.info = info
    return model.to(device).eval()


def init_from_classifiers(model: EmbeddingModel, init, *, cross_init: str = "domains") -> dict:
    """Copy pre-trained classifier networks into ``model`` (output layer dropped).

    ``init`` is a classifier folder (MONO, MIXED) or ``{"mono": path, "mix": path}`` (CROSS);
    each classifier must have been trained on the domain its key names.  ``cross_init``
    (CROSS only): ``"domains"`` starts each network from its own domain's classifier,
    ``"mono"`` or ``"mix"`` starts both networks from that one classifier (the authors'
    ``train.py`` loads one ``--pretrained_model`` into both).
    Returns ``{network: path}`` (empty for ``init=None``).
    """
    if cross_init not in CROSS_INITS:
        raise ConfigError(f"train.cross_init {cross_init!r} not in {CROSS_INITS}")
    if init is None:
        return {}
    if not isinstance(init, dict):
        if model.kind == "cross":
            raise ConfigError("a CROSS model needs init={'mono': path, 'mix': path}")
        init = {next(iter(model.networks)): init}
    if set(init) != set(model.networks):
        raise ConfigError(f"init for a {model.kind} model needs networks "
                          f"{sorted(model.networks)}, got {sorted(init)}")
    domain_of = {name: name for name in init}  # network -> classifier domain it starts from
    if model.kind == "cross" and cross_init != "domains":
        domain_of = {name: cross_init for name in init}
    sources = {}
    for name, domain in domain_of.items():
        path = init[domain]
        source = load_model(path)
        if source.kind != "classifier" or source.info.get("domain") != domain:
            raise ConfigError(f"{path}: expected a classifier pre-trained on {domain!r} segments")
        model.networks[name].load_state_dict(source.network_for(domain).state_dict())
        sources[name] = str(path)
    return dict(sorted(sources.items()))
