"""End to end on unseen singers: the orderings that make the method (issue 16, point 5).

On the session's whole-DAG run of config/test.yaml (conftest's ``demo_dag_run``, shared
with test_workflow.py), the pre-trained CROSS model must identify unseen singers across domains
(Mono2Mix) clearly above chance and above the MFCC GMM-UBM.  The
guard is shown to fire: CROSS trained on the same dataset with singer labels shuffled over
the training windows (classifiers and metric learning alike) puts Mono2Mix back near
chance, and the same check rejects it.
"""

import dataclasses
import json
from functools import partial

import numpy as np
import pandas as pd
import pytest
import yaml
from conftest import ROOT
from orderings import check_orderings, top1

from pipeline.evaluate.protocol import EvalParams, evaluate_models
from pipeline.train.checkpoint import load_model
from pipeline.train.loop import fit, pretrain
from pipeline.train.model import embed_mels
from pipeline.train.params import TrainParams

pytestmark = pytest.mark.slow

# The cross-domain checks the small run can resolve (4 unseen singers, 10 query tracks, so a
# query is 0.1): measured 0.7 for CROSS Mono2Mix against chance 0.25 and GMM-UBM 0.6.  The
# GMM-UBM-near-chance and Mix2Mix orderings need the default demo's 20 singers
# (tests/orderings.py on its run; README).
CROSS_DOMAIN = ("CROSS Mono2Mix > 2x chance", "CROSS Mono2Mix > GMM-UBM")
MARGIN = 0.05  # accuracy points beyond each strict comparison


@pytest.fixture(scope="module")
def workflow_run(demo_dag_run):
    results = demo_dag_run / "results-test"
    (dataset,) = [p for p in (results / "datasets").iterdir() if p.is_dir()]
    (evaluation,) = [p for p in (results / "evaluation").iterdir() if p.is_dir()]
    return demo_dag_run, results, dataset, evaluation


def _tables(evaluation):
    return pd.concat([pd.read_parquet(evaluation / "metrics.parquet"),
                      pd.read_parquet(evaluation / "baseline.parquet")], ignore_index=True)


def _report(table, checks):
    t = top1(table)["value"].unstack("scenario")
    print(t.round(3).to_string())
    print({k: v for k, v in checks.items()})


def test_cross_transfers_to_unseen_singers_and_gmm_ubm_does_not(workflow_run):
    _, _, _, evaluation = workflow_run
    table = _tables(evaluation)
    checks = check_orderings(table, margin=MARGIN)
    _report(table, checks)
    failed = [name for name in CROSS_DOMAIN if not checks[name]]
    assert not failed, failed


def _shuffled_copy(dataset, out, seed):
    """``dataset`` with the training windows' singer labels permuted (same window, same label
    in both domains); the shards are linked, not copied."""
    out.mkdir()
    for p in dataset.iterdir():
        if p.suffix == ".npy" or p.name == "card.json":
            (out / p.name).symlink_to(p)
    index = pd.read_parquet(dataset / "index.parquet")
    train = index["subset"].isin(["train", "valid"])
    windows = index.loc[train, ["perf_id", "window_index", "singer"]].drop_duplicates(
        ["perf_id", "window_index"])
    windows["singer"] = np.random.default_rng(seed).permutation(windows["singer"].to_numpy())
    relabel = index.loc[train, ["perf_id", "window_index"]].merge(
        windows, on=["perf_id", "window_index"], how="left")["singer"].to_numpy()
    index.loc[train, "singer"] = relabel
    index.to_parquet(out / "index.parquet")
    return out


def test_cross_trained_on_shuffled_singers_fails_the_check(workflow_run, tmp_path):
    workdir, results, dataset, evaluation = workflow_run
    (models,) = list((results / "models").iterdir())
    info = json.loads((models / "cross-pretrained" / "model.json").read_text())
    params = TrainParams(**{k: v for k, v in info["train"].items()
                            if k in {f.name for f in dataclasses.fields(TrainParams)}})
    shuffled = _shuffled_copy(dataset, tmp_path / "shuffled", seed=1)
    init = {}
    for domain in ("mono", "mix"):
        pretrain(shuffled, domain, params, tmp_path / f"pretrain-{domain}")
        init[domain] = tmp_path / f"pretrain-{domain}"
    fit(shuffled, "cross", params, tmp_path / "cross", init=init)
    config = yaml.safe_load((ROOT / "config" / "test.yaml").read_text())
    fields = {f.name for f in dataclasses.fields(EvalParams)}
    eval_params = EvalParams(**{k: v for k, v in config.get("evaluate", {}).items()
                                if k in fields})
    broken = evaluate_models(dataset, {("CROSS", True): partial(embed_mels, load_model(
        tmp_path / "cross"))}, params=eval_params, baselines=False)
    table = _tables(evaluation)
    table = pd.concat([table[~((table["model"] == "CROSS") & table["pretrained"])], broken],
                      ignore_index=True)
    checks = check_orderings(table, margin=MARGIN)
    _report(table, checks)
    assert not all(checks[name] for name in CROSS_DOMAIN)
    chance = float(top1(table).loc[("chance", "Mono2Mix"), "value"])
    assert float(top1(table).loc[("CROSS", "Mono2Mix"), "value"]) <= 2 * chance
