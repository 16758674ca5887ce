"""The rules only wire: no path parsing or hard-coded vocabulary in rules/, and the CLI
arguments that replaced them (seeds, threads, pre-trained classifiers)."""

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from pipeline.cli._common import with_global_seed
from pipeline.cli.train import init_argument
from pipeline.core.errors import ConfigError, PipelineError

ROOT = Path(__file__).resolve().parent.parent
RULES = {p.name: p.read_text() for p in sorted((ROOT / "rules").glob("*.smk"))}


@pytest.mark.parametrize("pattern, why", [
    (r"\$\(dirname", "a shell command parses a path"),
    (r"Path\([^)]*\)\.parent", "a parent-folder lambda"),
    (r"\bzip\(", "pairing by order"),
    (r"split\(['\"]-['\"]\)", "a folder name parsed"),
    (r"test_model|test_query", "a hard-coded subset (pipeline.evaluate.protocol.TEST_SUBSETS)"),
    (r"\[\"mono\", \"mixed\", \"cross\"\]|\[\"pretrained\", \"scratch\"\]",
     "a hard-coded vocabulary (pipeline.core.vocabulary)"),
])
def test_rules_do_not_think(pattern, why):
    hits = [f"{name}:{i}" for name, text in RULES.items()
            for i, line in enumerate(text.splitlines(), 1) if re.search(pattern, line)]
    assert not hits, f"{why}: {hits}"


def test_snr_variants_reuse_the_rules():
    assert "use rule mix as mix_snr with:" in RULES["mashup.smk"]
    assert "use rule card as card_snr with:" in RULES["mashup.smk"]


def test_heavy_rules_write_benchmarks():
    for rule in ("analyze_vocals", "analyze_accompaniments", "mix", "pretrain", "train",
                 "evaluate", "baseline"):
        text = "\n".join(RULES.values())
        body = re.split(rf"^rule {rule}:\n", text, flags=re.M)[1].split("\n\n\n")[0]
        assert "    benchmark:" in body, rule


def test_a_section_seed_is_not_overridden_by_the_global_one():
    assert with_global_seed({"seed": 3}, 1234) == {"seed": 3}
    assert with_global_seed({"seed": 0}, 1234) == {"seed": 0}
    assert with_global_seed({"seed": None, "lr": 1}, 1234) == {"seed": 1234, "lr": 1}
    assert with_global_seed({}, 7) == {"seed": 7}
    assert with_global_seed({"seed": None}, None) == {}  # the dataclass default


def test_train_cli_passes_the_config_seed_and_the_job_threads(monkeypatch, tmp_path):
    import pipeline.cli.train as cli

    seen = {}
    monkeypatch.setattr(cli, "fit", lambda dataset, kind, params, out, init=None:
                        seen.update(params=params, init=init) or {})
    from pipeline.cli import main

    assert main(["train", "--dataset", "d", "--kind", "mono", "--out", str(tmp_path),
                 "--seed", "1234", "--threads", "3", "--params", '{"seed": 5}']) == 0
    assert seen["params"].seed == 5 and seen["params"].threads == 3 and seen["init"] is None
    assert main(["train", "--dataset", "d", "--kind", "mono", "--out", str(tmp_path),
                 "--seed", "1234", "--params", '{"seed": null}']) == 0
    assert seen["params"].seed == 1234


def _classifier(folder: Path, domain: str) -> Path:
    folder.mkdir(parents=True)
    (folder / "model.json").write_text(json.dumps({"kind": "classifier", "domain": domain}))
    return folder


def test_init_folders_name_their_domain_in_model_json(tmp_path):
    mono = _classifier(tmp_path / "a", "mono")
    mix = _classifier(tmp_path / "b", "mix")
    assert init_argument("cross", None, None, [mix, mono]) == {"mono": mono, "mix": mix}
    assert init_argument("mixed", None, None, [mix]) == {"mix": mix}
    with pytest.raises(ConfigError, match="--init-mix"):
        init_argument("mixed", None, None, [mono])
    with pytest.raises(ConfigError, match="two pre-trained mono"):
        init_argument("mono", None, None, [mono, mono])
    with pytest.raises(PipelineError, match="model.json"):
        init_argument("mono", None, None, [tmp_path / "nowhere"])


SNAKEFMT = Path(sys.executable).parent / "snakefmt"  # this environment's, not another's


@pytest.mark.skipif(not SNAKEFMT.exists(), reason="snakefmt not installed (pip install -e '.[test]')")
def test_snakefmt_is_clean():
    exe = str(SNAKEFMT)
    proc = subprocess.run([exe, "--check", "Snakefile", "rules"], cwd=ROOT,
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
