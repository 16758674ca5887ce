"""Command-line entry: ``python -m pipeline <stage> --help``.

Each stage lives in ``pipeline/cli/<module>.py`` and exposes ``add_arguments(parser)`` and
``run(args) -> int``; the first line of its docstring is the help text.  Modules are imported
lazily so ``--help`` stays fast.
"""

from __future__ import annotations

import argparse
import ast
import importlib
import importlib.util
import logging
import sys
from pathlib import Path

from ..core.errors import PipelineError

COMMANDS = {
    "demo-corpus": "demo_corpus",
    "ingest": "ingest",
    "split": "split",
    "analyze": "analyze",
    "analyze-vocals": "analyze_vocals",
    "analyze-accompaniments": "analyze_accompaniments",
    "join": "join",
    "mix": "mix",
    "card": "card",
    "verify": "verify",
    "regenerate": "regenerate",
    "plan-training": "plan_training",
    "pretrain": "pretrain",
    "train": "train",
    "embed": "embed",
    "query": "query",
    "evaluate": "evaluate",
    "demo-songs": "demo_songs",
    "evaluate-songs": "evaluate_songs",
    "baseline": "baseline",
    "report": "report",
    "compare-runs": "compare_runs",
    "orderings": "orderings",
    "account": "account",
}


def _module(name: str):
    return importlib.import_module(f"{__name__}.{COMMANDS[name]}")


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m pipeline",
        description="DAMP-Mash dataset generation, training and evaluation stages.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", metavar="<stage>")
    for name in COMMANDS:
        if only is None:  # the list of stages: first docstring lines, read without importing
            sub.add_parser(name, help=command_summary(name))
            continue
        if name != only:
            sub.add_parser(name, add_help=False)  # no import: a job loads only its module
            continue
        try:
            module = _module(name)
        except ImportError as exc:
            sub.add_parser(name, help=f"(not available: {exc})")
            continue
        doc = (module.__doc__ or "").strip()
        p = sub.add_parser(name, help=doc.splitlines()[0] if doc else None, description=doc,
                           formatter_class=argparse.RawDescriptionHelpFormatter)
        module.add_arguments(p)
    return parser


def command_summary(name: str) -> str | None:
    """First line of a command module's docstring, read from its source (no import: the
    stage list would otherwise pay every stage's imports and numba compilation)."""
    spec = importlib.util.find_spec(f"{__name__}.{COMMANDS[name]}")
    if spec is None or spec.origin is None:
        return "(not available)"
    doc = (ast.get_docstring(ast.parse(Path(spec.origin).read_text())) or "").strip()
    return doc.splitlines()[0] if doc else None


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    command = next((a for a in argv if not a.startswith("-")), None)
    parser = build_parser(only=command if command in COMMANDS else None)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if args.command is None:
        parser.print_help()
        return 0
    try:
        return int(_module(args.command).run(args) or 0)
    except PipelineError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
