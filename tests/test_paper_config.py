"""config/damp-musdb.yaml is the paper's protocol, its DAG plans at DAMP size, and its cost.

The DAMP-sized corpus stand-in (34,620 performances by 3,462 singers, 150 accompaniments) is
``bench/bench_dag_scale.py``'s, as in ``tests/test_dag_scale.py``.
"""

import re
import sys
from pathlib import Path

import pytest
import yaml

from pipeline.cli import main
from pipeline.core.config import merge, validate_config
from pipeline.train import loop
from pipeline.train.params import TrainParams
from pipeline.train.plan import epoch_items, plan_training

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

from bench_dag_scale import dry_run, write_damp_scale_workdir  # noqa: E402

DEMO = yaml.safe_load((ROOT / "config/config.yaml").read_text())
PAPER = yaml.safe_load((ROOT / "config/damp-musdb.yaml").read_text())


def paper_config() -> dict:
    """config.yaml with damp-musdb.yaml merged over it, as the Snakefile does, validated."""
    return validate_config(merge(DEMO, PAPER))


@pytest.fixture(scope="module")
def damp_workdir(tmp_path_factory):
    """A DAMP-sized workdir and a config file: damp-musdb.yaml with the stand-in's sources."""
    workdir = tmp_path_factory.mktemp("damp")
    stand_in = yaml.safe_load(write_damp_scale_workdir(workdir).read_text())
    config = dict(PAPER, results=stand_in["results"], sources=stand_in["sources"])
    path = workdir / "paper.yaml"
    path.write_text(yaml.safe_dump(config))
    return workdir, path


def test_no_demo_training_or_evaluation_value_leaks_through():
    # every train / evaluate key config.yaml sets is set again here (threads: a runtime knob)
    for section in ("train", "evaluate"):
        leaked = set(DEMO[section]) - set(PAPER[section]) - {"threads"}
        assert not leaked, (section, leaked)
    config = paper_config()
    train, evaluate, split = config["train"], config["evaluate"], config["split"]
    assert train["items_per_epoch"] is None and train["pretrain_epochs"] == 30
    assert train["epochs"] >= 100  # early stopping, not the epoch limit, ends a run
    assert (train["lr"], train["momentum"], train["nesterov"]) == (0.001, 0.9, True)
    assert (train["lr_factor"], train["lr_patience"], train["min_lr"]) == (0.2, 2, 1.6e-5)
    assert train["patience"] == 10 and train["weight_decay"] == pytest.approx(2e-5)
    assert (train["batch_size"], train["margin"], train["negatives"]) == (32, 0.1, 4)
    assert train["cross_init"] == "mono"  # the authors: one classifier into both networks
    assert train["negatives_from"] == "dataset"  # the authors draw negatives from the dataset
    assert (split["train_singers"], split["unseen_singers"]) == (1000, 300)
    assert (split["model_tracks"], split["query_tracks"]) == (6, 4)
    assert evaluate["segments_per_track"] == 20 and config["svd"]["max_windows"] >= 20
    assert (evaluate["gmm_components"], evaluate["n_mfcc"], evaluate["retrieval_k"]) == (256, 13, 5)


def test_every_paper_value_is_commented_with_its_source():
    section, checked = None, 0
    for line in (ROOT / "config/damp-musdb.yaml").read_text().splitlines():
        if re.match(r"^\w+:", line):
            section = line.split(":")[0]
        if section in ("split", "svd", "train", "evaluate") and re.match(r"^  \w+:", line):
            assert re.search(r"#\s*(paper \d|authors|ours)", line), line
            checked += 1
    assert checked >= 30


def test_paper_config_dag_plans_at_damp_size(damp_workdir):
    workdir, config = damp_workdir
    jobs, _, out = dry_run(workdir, config)
    counts = {m[1]: int(m[2]) for m in re.finditer(r"^(\w+)\s+(\d+)\s*$", out, re.M)}
    assert 0 < jobs < 2000, out[-2000:]
    assert counts.get("pretrain") == 2 and counts.get("train") == 6, counts
    assert counts.get("analyze_vocals") == 87, counts


def test_plan_training_prints_damp_items_and_cost(damp_workdir, capsys):
    workdir, _ = damp_workdir
    manifest = workdir / "results" / "manifests" / "vocals.parquet"
    assert main(["plan-training", "--config", str(ROOT / "config/config.yaml"),
                 str(ROOT / "config/damp-musdb.yaml"), "--manifest", str(manifest)]) == 0
    out = capsys.readouterr().out
    # 1000 singers x 9 training performances (1 of 10 validates) x 20 windows
    assert "1,000 training singers, 9,000 training performances" in out
    assert re.search(r"^MONO\s+2\s+180,000\s+5,625\s+6\s+30 \(1000\)\s+10,800,000\s+17\.8 ",
                     out, re.M), out
    assert re.search(r"^pretrain-mono\s+1\s+180,000\s+5,625\s+1\s+30 \(30\)", out, re.M), out
    assert re.search(r"^total\s+8\s+43,200,000\s+56\.5 \(1,786\.9\)", out, re.M), out
    assert "1,009 segments/s" in out


def test_plan_matches_hand_computed_damp_values():
    params = TrainParams(items_per_epoch=None, epochs=1000, pretrain_epochs=30)
    plan = plan_training(9000, 20, params, metric_epochs=30)
    runs = {r.name: r for r in plan.runs}
    assert list(runs) == ["pretrain-mono", "pretrain-mix", "MONO", "MIXED", "CROSS"]
    assert plan.segments == {"mono": 180_000, "mix": 180_000}
    for r in plan.runs:
        assert (r.items_per_epoch, r.batches_per_epoch) == (180_000, 5_625)
    mono = runs["MONO"]
    assert (mono.runs, mono.segments_per_item, mono.epochs, mono.max_epochs) == (2, 6, 30, 1000)
    assert mono.items == 2 * 30 * 180_000 and mono.segments == 64_800_000
    assert mono.cpu_hours == pytest.approx(64_800_000 / 1009 / 3600)  # 17.84 h
    assert mono.max_cpu_hours == pytest.approx(2 * 1000 * 180_000 * 6 / 1009 / 3600)
    pre = runs["pretrain-mix"]
    assert (pre.runs, pre.segments_per_item, pre.items) == (1, 1, 5_400_000)
    assert plan.items == 2 * 5_400_000 + 3 * 10_800_000
    assert plan.cpu_hours == pytest.approx((10_800_000 + 3 * 64_800_000) / 1009 / 3600)


def test_plan_rounds_to_whole_batches_like_the_loop():
    # 10 performances x 7 windows = 70 mono segments -> 64 items, 2 batches of 32;
    # 2 mixes per window -> 140 mix segments -> 128 items, 4 batches (MIXED anchors are mixes)
    plan = plan_training(10, 7, TrainParams(items_per_epoch=None), mixes_per_window=2,
                         segments_per_s=100.0, metric_epochs=None)
    runs = {r.name: r for r in plan.runs}
    assert (runs["CROSS"].items_per_epoch, runs["CROSS"].batches_per_epoch) == (64, 2)
    assert (runs["MIXED"].items_per_epoch, runs["MIXED"].batches_per_epoch) == (128, 4)
    assert runs["MIXED"].epochs == 20  # None: the config's epochs (the schema default 20)
    assert runs["MIXED"].cpu_hours == pytest.approx(2 * 20 * 128 * 6 / 100 / 3600)
    for n in range(1, 200):
        assert epoch_items(n, TrainParams(items_per_epoch=None))[0] == loop._whole_batches(n, 32)
    assert epoch_items(10, TrainParams(items_per_epoch=None)) == (10, 1)  # below one batch


def test_plan_of_the_demo_epoch_size_ignores_the_pool():
    # the defect: 1,024 items per epoch whatever the corpus, 12 epochs -> 12,288 anchors per run
    plan = plan_training(9000, 20, TrainParams(items_per_epoch=1024, epochs=12),
                         metric_epochs=None)
    cross = plan.runs[-1]
    assert (cross.items_per_epoch, cross.batches_per_epoch, cross.items) == (1024, 32, 24_576)
    hard = plan_training(9000, 20, TrainParams(hard_negatives=True, hard_candidates=20),
                         metric_epochs=100).runs[-1]
    assert hard.segments_per_item == 22 and hard.epochs == 20  # capped at train.epochs
