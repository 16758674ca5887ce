"""Helpers shared by the stage commands: the ``--params`` convention and logging setup.

Every stage takes its config section as ``--params JSON`` (or ``--params @file.json|yaml``).
Rules pass ``json.dumps(config[section])``; a person at the shell can pass a few keys and
the stage's dataclass defaults fill in the rest.
"""

from __future__ import annotations

import json
from pathlib import Path

from ..core.config import params_from  # noqa: F401 (the stage commands' one import)
from ..core.errors import ConfigError


def add_params_argument(parser, section: str) -> None:
    parser.add_argument(
        "--params", default="{}", metavar="JSON|@FILE",
        help=f"the '{section}' config section as a JSON object or @path to JSON/YAML "
             "(missing keys take their defaults)")


def add_seed_argument(parser) -> None:
    parser.add_argument("--seed", type=int, default=None,
                        help="the global seed: the stage's seed unless --params sets one "
                             "(a null seed there also takes this one)")


def add_threads_argument(parser) -> None:
    parser.add_argument("--threads", type=int, default=None,
                        help="torch intra-op threads (the job's threads in the DAG); "
                             "overrides the params' threads")


def with_global_seed(values: dict, seed) -> dict:
    """``values`` whose ``seed`` is the section's own, or ``seed`` when it is missing or null.

    A seed set in a config section is never overridden by the global one; a null one (the
    schema's default) means "the global seed".  Without either the dataclass default applies.
    """
    values = dict(values)
    if values.get("seed") is None:
        values.pop("seed", None)
        if seed is not None:
            values["seed"] = seed
    return values


def add_shard_arguments(parser, *, manifest: str, prefix_example: str, params_help: str) -> None:
    """``--manifest``, ``--shard``, ``--out-prefix`` and ``--params`` of a per-shard stage."""
    parser.add_argument("--manifest", required=True, help=manifest)
    parser.add_argument("--shard", required=True, type=int, help="shard number k")
    parser.add_argument("--out-prefix", required=True,
                        help=f"output prefix, e.g. {prefix_example}")
    parser.add_argument("--params", default="{}", metavar="JSON|@FILE",
                        help=f"{params_help} or @path to JSON/YAML")


def read_shard(manifest_path, shard: int):
    """The rows of manifest shard ``shard``, renumbered from 0."""
    import pandas as pd

    manifest = pd.read_parquet(manifest_path)
    return manifest[manifest["shard"] == shard].reset_index(drop=True)


def load_params_dict(text: str) -> dict:
    """Parse a ``--params`` value: a JSON object, or ``@path`` to a JSON or YAML file."""
    if text.startswith("@"):
        path = Path(text[1:])
        if not path.exists():
            raise ConfigError(f"--params file not found: {path}")
        raw = path.read_text()
        if path.suffix in (".yaml", ".yml"):
            import yaml

            value = yaml.safe_load(raw)
        else:
            value = json.loads(raw)
    else:
        try:
            value = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"--params is not valid JSON: {exc}") from None
    if not isinstance(value, dict):
        raise ConfigError("--params must be a JSON object")
    return value


def eval_params(args):
    """The ``evaluate`` section from ``--params``; ``--seed`` when its seed is missing or null."""
    from ..evaluate.protocol import EvalParams

    values = with_global_seed(load_params_dict(args.params), getattr(args, "seed", None))
    return params_from(EvalParams, values, "evaluate")


def write_table(path: Path, table) -> None:
    """``path`` (.parquet) and the same table as CSV beside it."""
    from ..core.atomic import write_parquet, write_text

    path = Path(path).with_suffix(".parquet")
    write_parquet(path, table)
    write_text(path.with_suffix(".csv"), table.to_csv(index=False, float_format="%.6g"))
