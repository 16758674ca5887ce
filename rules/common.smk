import json
import sys
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(workflow.basedir)))

from pipeline.core.config import DATA_SECTIONS, check_paths, dataset_version, validate_config  # noqa: E402

# Validation first: a bad value fails here, before any job, naming the key.
validate_config(config, schema=Path(workflow.basedir) / "workflow/schemas/config.schema.yaml")
check_paths(config)

R = config["results"]
VERSION = dataset_version(config)
DATASET = f"{R}/datasets/{VERSION}"
MODELS = f"{R}/models/{VERSION}"
EVALUATION = f"{R}/evaluation/{VERSION}"
MANIFESTS = f"{R}/manifests"
ANALYSIS = f"{R}/analysis"
ACCOUNTING = f"{R}/accounting/{VERSION}/accounting.parquet"
SNRS = config["evaluate"]["snr_sweep_db"]
KINDS = ["mono", "mixed", "cross"]
INITS = ["pretrained", "scratch"]
ALL_MODELS = [f"{MODELS}/{k}-{i}/model.pt" for k in KINDS for i in INITS]


wildcard_constraints:
    shard=r"\d+",
    kind="mono|mixed|cross",
    init="pretrained|scratch",
    domain="mono|mix",
    snr=r"-?\d+(\.\d+)?",


def as_json(section):
    return json.dumps(section, sort_keys=True)


def demo_marker(corpus):
    """The demo generator's done marker when this corpus is the demo, else nothing."""
    src = config["sources"][corpus]
    return [f"{src['root']}/corpus.json"] if src["type"] == "demo" else []


def _n_shards(table):
    return int(pd.read_parquet(table, columns=["shard"])["shard"].max()) + 1


def vocal_shards(wildcards):
    return range(_n_shards(checkpoints.ingest.get().output.vocals))


def accompaniment_shards(wildcards):
    return range(_n_shards(checkpoints.ingest.get().output.accompaniments))


def vocal_windows(wildcards):
    return [f"{ANALYSIS}/vocals/{k}.windows.parquet" for k in vocal_shards(wildcards)]


def vocal_skipped(wildcards):
    return [f"{ANALYSIS}/vocals/{k}.skipped.parquet" for k in vocal_shards(wildcards)]


def accompaniment_tables(suffix):
    def inputs(wildcards):
        return [f"{ANALYSIS}/accompaniments/{k}.{suffix}" for k in accompaniment_shards(wildcards)]

    return inputs


def dataset_shard_indices(dataset):
    def inputs(wildcards):
        return [f"{dataset}/index-{k:06d}.parquet" for k in vocal_shards(wildcards)]

    return inputs


def model_path(kind, init):
    return f"{MODELS}/{kind}-{init}/model.pt"


def report_outputs():
    return [f"{EVALUATION}/report.html"]


def mix_inputs(wildcards):
    return {
        "pairs": f"{DATASET}/pairs.parquet",
        "vocals": f"{MANIFESTS}/vocals.parquet",
        "tracks": accompaniment_tables("tracks.parquet")(wildcards),
        "audio": accompaniment_tables("audio.npy")(wildcards),
    }


def pretrained_inputs(wildcards):
    if wildcards.init == "scratch":
        return []
    domains = {"mono": ["mono"], "mixed": ["mix"], "cross": ["mono", "mix"]}[wildcards.kind]
    return [f"{MODELS}/pretrain-{d}/model.pt" for d in domains]
