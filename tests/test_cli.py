"""The command line: the stage list is cheap, and every stage is listed with its summary."""

import json
import subprocess
import sys
from pathlib import Path

from pipeline.cli import COMMANDS, command_summary

ROOT = Path(__file__).resolve().parent.parent

PROBE = """
import contextlib, io, json, sys
from pipeline.cli import main
out = io.StringIO()
with contextlib.redirect_stdout(out):
    try:
        main(["--help"])
    except SystemExit:
        pass
heavy = sorted(m for m in sys.modules if m.split(".")[0] in ("librosa", "numba", "torch")
               or m.startswith(("pipeline.analysis", "pipeline.train", "pipeline.evaluate")))
print(json.dumps({"help": out.getvalue(), "heavy": heavy}))
"""


def test_the_stage_list_imports_no_stage_and_names_every_command():
    done = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True,
                          cwd=ROOT, check=True)
    result = json.loads(done.stdout)
    assert result["heavy"] == []  # listing stages pays no imports and no numba compilation
    for name in COMMANDS:
        assert name in result["help"]
        summary = command_summary(name)
        assert summary and summary.split()[0] in result["help"]


def test_summary_is_the_modules_docstring_first_line():
    import importlib

    for name, module in COMMANDS.items():
        doc = importlib.import_module(f"pipeline.cli.{module}").__doc__.strip()
        assert command_summary(name) == doc.splitlines()[0]
