import json
import sys
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(workflow.basedir)))

from pipeline.core.config import (  # noqa: E402
    DATA_SECTIONS,
    check_paths,
    dataset_version,
    validate_config,
)
from pipeline.core.vocabulary import (
    DOMAINS,
    INITS,
    KINDS,
    pretraining_domains,
)  # noqa: E402
from pipeline.core.runlock import ResultsInUse, hold_results_lock  # noqa: E402
from pipeline.dataset.shards import shard_name  # noqa: E402
from pipeline.evaluate.protocol import TEST_SUBSETS  # noqa: E402

# Validation first: a bad value fails here, before any job, naming the key.
validate_config(
    config, schema=Path(workflow.basedir) / "workflow/schemas/config.schema.yaml"
)
check_paths(config)

R = config["results"]
VERSION = dataset_version(config)
DATASET = f"{R}/datasets/{VERSION}"
SNR_DATASET = f"{DATASET}/snr/{{snr}}"
MODELS = f"{R}/models/{VERSION}"
EVALUATION = f"{R}/evaluation/{VERSION}"
FIGURES = f"{EVALUATION}/figures"
MANIFESTS = f"{R}/manifests"
ANALYSIS = f"{R}/analysis"
ACCOUNTING = f"{R}/accounting/{VERSION}/accounting.parquet"
ACCOUNTING_CSV = f"{R}/accounting/{VERSION}/accounting.csv"
BENCHMARKS = f"{R}/benchmarks"
SNRS = config["evaluate"]["snr_sweep_db"]
# The jobs' threads reach torch (--threads); Snakemake caps them at --cores.
TRAIN_THREADS = max(1, config["train"]["threads"])
# Figures of the report: paper figure -> file stem under FIGURES.
FIGURE_STEMS = {
    "identification": "fig3_identification",
    "retrieval": "fig4_retrieval",
    "pretraining": "fig5_pretraining",
    "snr": "fig6_snr",
    "tsne": "fig7_tsne",
}


# One run per results folder, also across working directories (Snakemake's own lock is per
# working directory). onstart runs in the main process only, after the DAG, before any job.
onstart:
    try:
        hold_results_lock(R)
    except ResultsInUse as exc:
        raise SystemExit(f"Error: {exc}")


wildcard_constraints:
    shard=r"\d+",
    kind="|".join(KINDS),
    init="|".join(INITS),
    domain="|".join(DOMAINS),
    snr=r"-?\d+(\.\d+)?",


def folder(path):
    """A folder argument from one of the paths above ({wildcards} filled in).

    A function rather than a string, so that --lint (which asks for prefixes to be derived
    from files, for remote storage) accepts a folder that is not itself a file.
    """
    return lambda wildcards: path.format(**wildcards)


def as_json(section):
    return json.dumps(section, sort_keys=True)


def demo_recipe():
    """The demo corpus's generator version and resolved parameters (``demo.params.recipe``)."""
    from pipeline.demo.params import recipe

    return recipe(
        config["demo"]["preset"], config["demo"]["params"], seed=config["seed"]
    )


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


def vocal_tables(suffix):
    def inputs(wildcards):
        return [f"{ANALYSIS}/vocals/{k}.{suffix}" for k in vocal_shards(wildcards)]

    return inputs


def accompaniment_tables(suffix):
    def inputs(wildcards):
        return [
            f"{ANALYSIS}/accompaniments/{k}.{suffix}"
            for k in accompaniment_shards(wildcards)
        ]

    return inputs


def model_files(kind, init):
    """model.pt and model.json (its self-description, read by load_model)."""
    return [f"{MODELS}/{kind}-{init}/model.pt", f"{MODELS}/{kind}-{init}/model.json"]


def trained_models():
    """(kind, init) of every model: each kind pre-trained, the scratch_kinds also from scratch."""
    scratch = set(config["models"]["scratch_kinds"])
    return [(k, i) for k in KINDS for i in INITS if i != "scratch" or k in scratch]


ALL_MODELS = [model_files(k, i)[0] for k, i in trained_models()]
ALL_MODEL_INFOS = [model_files(k, i)[1] for k, i in trained_models()]


def classifier_dirs(wildcards):
    """Folders of the pre-trained classifiers that initialise {kind}-{init}."""
    if wildcards.init == "scratch":
        return []
    return [f"{MODELS}/pretrain-{d}" for d in pretraining_domains(wildcards.kind)]


def classifier_files(wildcards):
    return [
        f"{d}/{name}"
        for d in classifier_dirs(wildcards)
        for name in ("model.pt", "model.json")
    ]


def init_flag(wildcards):
    dirs = classifier_dirs(wildcards)
    return f"--init {' '.join(dirs)}" if dirs else ""


def snr_datasets():
    """``DB=DIR`` of every SNR of the sweep, each built from one value."""
    return " ".join(f"{snr}={SNR_DATASET.format(snr=snr)}" for snr in SNRS)


def figures(ext):
    return [f"{FIGURES}/{stem}.{ext}" for stem in FIGURE_STEMS.values()]


def report_outputs():
    return [f"{EVALUATION}/report.html"]


def dataset_skipped(dataset):
    """The mix stage's skipped-segment tables of a dataset folder, for the current shard count."""

    def inputs(wildcards):
        return [
            f"{dataset}/{shard_name('skipped', k)}" for k in vocal_shards(wildcards)
        ]

    return inputs


def sweep_shards(wildcards):
    """Every shard file of every SNR-sweep dataset."""
    return [f for snr in SNRS for f in dataset_shards(SNR_DATASET)({"snr": snr})]


def dataset_shards(dataset):
    """Every shard file (mono, mix, index) of a dataset folder, for the current shard count."""

    def inputs(wildcards):
        folder = dataset.format(**wildcards)
        return [
            f"{folder}/{shard_name(domain, k)}"
            for k in vocal_shards(wildcards)
            for domain in ("mono", "mix", "index")
        ]

    return inputs


# Songs of known singers (the paper's Table 1 setting): off unless songs.path is set.
SONGS_PATH = config["songs"]["path"]
SONGS_EVALUATION = f"{EVALUATION}/songs"
DEMO_SONGS = f"{R}/songs/{VERSION}/demo"  # unseen singers of this version's split


def songs_source():
    """The song folder or CSV evaluate_songs reads ("demo": the demo_songs rule's folder)."""
    if not SONGS_PATH:
        return []
    return DEMO_SONGS if SONGS_PATH == "demo" else SONGS_PATH


def songs_outputs():
    """The song evaluation's metrics table when songs.path is set, else nothing."""
    return [f"{SONGS_EVALUATION}/metrics.parquet"] if SONGS_PATH else []
