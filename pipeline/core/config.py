"""Configuration: schema validation (the same code Snakemake runs), path checks, versions.

``validate_config`` fills every default from ``workflow/schemas/config.schema.yaml`` and
fails on a wrong type or an unknown key with a message naming the key; ``check_paths``
fails on a missing corpus path.  Both run before any job.
"""

from __future__ import annotations

import copy
import dataclasses
from pathlib import Path

import yaml

from .errors import ConfigError
from .hashing import canonical_hash

__all__ = ["DATA_SECTIONS", "SCHEMA", "check_paths", "data_params", "dataset_version",
           "load_config", "merge", "params_from", "validate_config"]

SCHEMA = Path(__file__).resolve().parents[2] / "workflow" / "schemas" / "config.schema.yaml"

# Sections whose values change the generated data; the dataset version hashes them.
DATA_SECTIONS = ("seed", "sources", "demo", "shards", "split", "svd", "tempo", "key",
                 "mashup", "features")


def validate_config(config: dict, schema=SCHEMA) -> dict:
    """Validate ``config`` in place against the schema, filling defaults; return it."""
    from snakemake.exceptions import WorkflowError
    from snakemake.utils import validate

    try:
        validate(config, schema=str(schema), set_default=True)
    except WorkflowError as exc:
        raise ConfigError(_schema_message(exc)) from None
    return config


def _schema_message(exc) -> str:
    """The key path and the reason from a jsonschema error wrapped by Snakemake."""
    cause = exc.__cause__ or exc.__context__
    for arg in getattr(exc, "args", ()):
        if hasattr(arg, "absolute_path"):
            cause = arg
    if cause is not None and hasattr(cause, "absolute_path"):
        key = ".".join(str(p) for p in cause.absolute_path) or "<top level>"
        return f"config key '{key}': {cause.message}"
    return f"invalid config: {str(exc).splitlines()[0] if str(exc) else exc!r}"


def load_config(path, overrides: dict | None = None) -> dict:
    """Read a YAML config, apply ``overrides`` (nested dict), validate and check paths."""
    path = Path(path)
    if not path.exists():
        raise ConfigError(f"config file not found: {path}")
    config = yaml.safe_load(path.read_text()) or {}
    if overrides:
        config = merge(config, overrides)
    validate_config(config)
    check_paths(config)
    return config


def merge(base: dict, update: dict) -> dict:
    """Recursive dict merge; values of ``update`` win."""
    out = copy.deepcopy(base)
    for k, v in update.items():
        out[k] = merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def check_paths(config: dict) -> None:
    """A corpus root that the DAG does not generate itself must exist."""
    for corpus in ("vocals", "accompaniments"):
        src = config["sources"][corpus]
        if src["type"] != "demo" and not Path(src["root"]).exists():
            raise ConfigError(f"config key 'sources.{corpus}.root': path not found: {src['root']}")
        if corpus == "vocals":
            for key in ("metadata", "tempo_table"):
                name = src.get(key)
                if src["type"] != "demo" and name:
                    p = Path(name) if Path(name).is_absolute() else Path(src["root"]) / name
                    if not p.exists():
                        raise ConfigError(f"config key 'sources.vocals.{key}': file not found: {p}")


# Keys of data sections that only change speed: the shard bytes do not depend on them
# (tests/test_determinism.py), so neither does the version.
SPEED_KEYS = {"features": ("batch_size",)}


def data_params(config: dict) -> dict:
    """The data-changing parameters of a validated ``config``: its ``DATA_SECTIONS`` (absent
    ones as None) without the ``SPEED_KEYS``."""
    out = {k: config.get(k) for k in DATA_SECTIONS}
    for section, keys in SPEED_KEYS.items():
        if isinstance(out.get(section), dict):
            out[section] = {k: v for k, v in out[section].items() if k not in keys}
    return out


def dataset_version(config: dict) -> str:
    """Version of the dataset a config produces: 10 hex of the sha256 of ``data_params``.

    The one definition of a version: rules, the card and ``regenerate`` all call it.
    """
    return canonical_hash(data_params(config))


def params_from(cls, values: dict, section: str):
    """Build dataclass ``cls`` from ``values``; an unknown key is an error naming it."""
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - names)
    if unknown:
        raise ConfigError(f"{section}: unknown key(s) {unknown}; expected some of {sorted(names)}")
    return cls(**values)
