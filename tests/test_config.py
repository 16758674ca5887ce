"""Config validation: a bad value fails before any job, naming the key."""

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from pipeline.core.config import dataset_version, load_config, validate_config
from pipeline.core.errors import ConfigError

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("name", ["config.yaml", "test.yaml", "test-orderings.yaml",
                                  "damp-musdb.yaml"])
def test_shipped_configs_validate(name):
    config = yaml.safe_load((ROOT / "config" / name).read_text())
    validate_config(config)
    assert config["split"]["model_tracks"] == 6 and config["split"]["query_tracks"] == 4


@pytest.mark.parametrize("bad, key", [
    ({"seed": "abc"}, "seed"),
    ({"split": {"unseen_singers": "many"}}, "split.unseen_singers"),
    ({"shards": {"vocal_performances": 0}}, "shards.vocal_performances"),
    ({"sources": {"vocals": {"type": "dampp"}}}, "sources.vocals.type"),
])
def test_wrong_values_name_the_key(bad, key):
    with pytest.raises(ConfigError, match=f"'{key}'"):
        validate_config(bad)


def test_unknown_key_is_named():
    with pytest.raises(ConfigError, match="bogus"):
        validate_config({"mashup": {"bogus": 1}})
    with pytest.raises(ConfigError, match="typo_key"):
        validate_config({"typo_key": 1})


def test_missing_path_is_named(tmp_path):
    cfg = tmp_path / "c.yaml"
    cfg.write_text(yaml.safe_dump({"sources": {"vocals": {"type": "damp", "root": str(tmp_path / "nope")}}}))
    with pytest.raises(ConfigError, match="sources.vocals.root"):
        load_config(cfg)


def test_dataset_version_tracks_data_parameters_only():
    a = validate_config({})
    b = validate_config({"mashup": {"snr_db": 5.0}})
    c = validate_config({"train": {"epochs": 3}})
    assert dataset_version(a) != dataset_version(b)
    assert dataset_version(a) == dataset_version(c)


def test_snakemake_fails_before_any_job_on_bad_config(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "snakemake", "-n", "--cores", "1", "--directory", str(tmp_path),
         "--snakefile", str(ROOT / "Snakefile"), "--configfile", str(ROOT / "config" / "test.yaml"),
         "--config", "seed=notanumber"],
        capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode != 0
    assert "'seed'" in proc.stdout + proc.stderr


def test_speed_only_keys_do_not_change_the_version():
    base = {"seed": 1, "features": {"compression": "log1p10", "amin": 1e-5, "batch_size": 8}}
    faster = {"seed": 1, "features": {"compression": "log1p10", "amin": 1e-5, "batch_size": 64}}
    other = {"seed": 1, "features": {"compression": "db", "amin": 1e-5, "batch_size": 8}}
    assert dataset_version(base) == dataset_version(faster) != dataset_version(other)
