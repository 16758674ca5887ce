"""Pre-training and metric learning on a small synthetic dataset version (CPU, seeded)."""

import numpy as np
import pandas as pd
import pytest
import torch
from test_data import write_dataset

from pipeline.core.errors import ConfigError
from pipeline.core.tables import TRAIN_LOG
from pipeline.train import loop as train
from pipeline.train.checkpoint import init_from_classifiers, load_model
from pipeline.train.model import (
    EmbeddingModel,
    hardest_negatives,
    hinge_rank_loss,
    in_batch_triplet_embeddings,
)
from pipeline.train.params import TrainParams

FAST = dict(items_per_epoch=64, batch_size=16, valid_items=48, centroid_segments=8, threads=1)


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    return write_dataset(tmp_path_factory.mktemp("ds") / "v1", np.random.default_rng(0),
                         separation=0.6)


class Killed(Exception):
    pass


def test_cross_learns_separable_singers_well_above_chance(dataset, tmp_path):
    params = TrainParams(epochs=8, **FAST)
    metrics = train.fit(dataset, "cross", params, tmp_path / "cross")
    log = pd.read_csv(tmp_path / "cross" / "train_log.csv")
    assert list(log.columns) == list(TRAIN_LOG) and len(log) == metrics["epochs_run"] == 8
    chance = 1 / 6
    # An untrained CROSS model maps the two domains apart: about chance.
    torch.manual_seed(0)
    ds = train._Data(dataset)
    untrained = EmbeddingModel("cross", normalisation=ds.card["normalisation"])
    queries, targets = ds.pool("mono", ["valid"]), ds.pool("mix", ["train"])
    before = train.centroid_accuracy(untrained, ds.reader, query_domain="mono",
                                     queries=(queries, np.arange(len(queries))),
                                     centroids=(targets, np.arange(len(targets))))
    assert before < chance + 0.25
    assert log["valid_acc"].max() >= chance + 0.5
    assert log["valid_loss"].iloc[-1] < log["valid_loss"].iloc[0]
    model = load_model(tmp_path / "cross")
    assert model.kind == "cross" and model.info["dataset_version"] == "synthetic-v1"
    assert model.info["metrics"]["best_epoch"] == int(log["valid_loss"].idxmin()) + 1


def test_a_killed_run_resumes_to_the_same_weights(dataset, tmp_path):
    params = TrainParams(epochs=3, seed=5, **FAST)
    train.fit(dataset, "mixed", params, tmp_path / "whole")

    def kill_after_second(epoch, record):
        if epoch == 2:
            raise Killed

    with pytest.raises(Killed):
        train.fit(dataset, "mixed", params, tmp_path / "resumed", on_epoch_end=kill_after_second)
    assert not (tmp_path / "resumed" / "model.pt").exists()
    seen = []
    train.fit(dataset, "mixed", params, tmp_path / "resumed",
              on_epoch_end=lambda epoch, record: seen.append(epoch))
    assert seen == [3]  # only the missing epoch ran
    whole = torch.load(tmp_path / "whole" / "model.pt", weights_only=True)
    resumed = torch.load(tmp_path / "resumed" / "model.pt", weights_only=True)
    assert whole.keys() == resumed.keys()
    for key in whole:
        assert torch.equal(whole[key], resumed[key]), key
    a = pd.read_csv(tmp_path / "whole" / "train_log.csv")
    b = pd.read_csv(tmp_path / "resumed" / "train_log.csv")
    pd.testing.assert_frame_equal(a.drop(columns="seconds"), b.drop(columns="seconds"))
    for name in ("model.pt", "model.json", "metrics.json"):  # byte-identical outputs
        assert (tmp_path / "whole" / name).read_bytes() == (tmp_path / "resumed" / name).read_bytes()


def test_pretraining_initialises_the_embedding_networks(dataset, tmp_path):
    params = TrainParams(pretrain_epochs=2, epochs=1, **FAST)
    metrics = train.pretrain(dataset, "mix", params, tmp_path / "clf_mix")
    assert metrics["kind"] == "classifier" and metrics["epochs_run"] == 2
    clf = load_model(tmp_path / "clf_mix")
    assert clf.info["singers"] == [f"u{s:02d}" for s in range(6)] and clf.info["domain"] == "mix"
    model = EmbeddingModel("mixed", normalisation=clf.info["normalisation"])
    assert init_from_classifiers(model, tmp_path / "clf_mix") == {
        "mix": str(tmp_path / "clf_mix")}
    for key, value in clf.networks["mix"].state_dict().items():
        assert torch.equal(model.networks["mix"].state_dict()[key], value), key
    with pytest.raises(ConfigError, match="pre-trained on 'mono'"):
        init_from_classifiers(EmbeddingModel("mono", normalisation=clf.info["normalisation"]),
                              tmp_path / "clf_mix")
    with pytest.raises(ConfigError, match="CROSS"):
        init_from_classifiers(EmbeddingModel("cross", normalisation=clf.info["normalisation"]),
                              tmp_path / "clf_mix")
    metrics = train.fit(dataset, "mixed", params, tmp_path / "mixed", init=tmp_path / "clf_mix")
    assert metrics["pretrained"] is True
    assert load_model(tmp_path / "mixed").info["init"] == {"mix": str(tmp_path / "clf_mix")}


def test_cross_init_picks_the_classifier_each_network_starts_from(dataset, tmp_path):
    params = TrainParams(pretrain_epochs=1, epochs=1, **FAST)
    clf = {d: tmp_path / f"clf_{d}" for d in ("mono", "mix")}
    for d, folder in clf.items():
        train.pretrain(dataset, d, params, folder)
    weights = {d: load_model(folder).networks[d].state_dict() for d, folder in clf.items()}
    norm = load_model(clf["mono"]).info["normalisation"]
    assert not torch.equal(weights["mono"]["blocks.0.conv.weight"],
                           weights["mix"]["blocks.0.conv.weight"])
    for cross_init, start in (("mono", {"mono": "mono", "mix": "mono"}),
                              ("mix", {"mono": "mix", "mix": "mix"}),
                              ("domains", {"mono": "mono", "mix": "mix"})):
        model = EmbeddingModel("cross", normalisation=norm)
        assert init_from_classifiers(model, clf, cross_init=cross_init) == {
            net: str(clf[d]) for net, d in start.items()}
        for net, d in start.items():
            for key, value in weights[d].items():
                assert torch.equal(model.networks[net].state_dict()[key], value), (net, key)
    # MONO and MIXED take their own domain's classifier whatever cross_init says
    mixed = EmbeddingModel("mixed", normalisation=norm)
    assert init_from_classifiers(mixed, clf["mix"], cross_init="mono") == {"mix": str(clf["mix"])}
    with pytest.raises(ConfigError, match="cross_init"):
        TrainParams(cross_init="both")
    with pytest.raises(ConfigError, match="cross_init"):
        init_from_classifiers(EmbeddingModel("cross", normalisation=norm), clf, cross_init="x")
    fitted = train.fit(dataset, "cross", TrainParams(epochs=1, cross_init="mono", **FAST),
                       tmp_path / "cross", init=clf)
    assert fitted["pretrained"] is True
    assert load_model(tmp_path / "cross").info["init"] == {"mix": str(clf["mono"]),
                                                          "mono": str(clf["mono"])}


def test_hard_negatives_are_the_highest_scoring_candidates():
    torch.manual_seed(0)
    norm = {"mono": {"mean": 0.0, "std": 1.0}, "mix": {"mean": 0.0, "std": 1.0}}
    model = EmbeddingModel("cross", normalisation=norm).train()
    g = torch.Generator().manual_seed(0)
    anchor = torch.randn(3, 129, 128, generator=g)
    candidates = torch.randn(3, 20, 129, 128, generator=g)
    chosen = hardest_negatives(model, anchor, candidates, 4)
    assert chosen.shape == (3, 4, 129, 128) and model.training
    model.eval()
    with torch.no_grad():
        a = model(anchor, "mono")
        for i in range(3):
            scores = torch.cosine_similarity(a[i:i + 1], model(candidates[i], "mix"))
            best = set(scores.topk(4).indices.tolist())
            picked = {j for j in range(20) for c in chosen[i] if torch.equal(c, candidates[i, j])}
            assert picked == best


def test_hard_negative_training_runs(dataset, tmp_path):
    params = TrainParams(epochs=1, hard_negatives=True, hard_candidates=8, **FAST)
    metrics = train.fit(dataset, "mono", params, tmp_path / "mono")
    assert np.isfinite(metrics["best_valid_loss"])


@pytest.mark.parametrize("kind", ["mono", "cross"])
def test_in_batch_negatives_are_the_positives_embedded_once(kind):
    torch.manual_seed(0)
    norm = {"mono": {"mean": 0.0, "std": 1.0}, "mix": {"mean": 0.0, "std": 1.0}}
    model = EmbeddingModel(kind, normalisation=norm).eval()  # eval: no dropout draws
    g = torch.Generator().manual_seed(0)
    anchor, positive = torch.randn(5, 129, 128, generator=g), torch.randn(5, 129, 128, generator=g)
    slots = torch.tensor([[1, 2], [0, 3], [4, 0], [2, 1], [3, 2]])
    seen = []
    for net in {id(model.network_for(d)): model.network_for(d) for d in ("mono", "mix")}.values():
        net.register_forward_hook(lambda m, args, out: seen.append(args[0].shape[0]))
    a, p, n = in_batch_triplet_embeddings(model, anchor, positive, slots, kind=kind)
    assert sum(seen) == 10  # 2B segments, not (2 + K)B
    torch.testing.assert_close(n, p[slots])
    with torch.no_grad():  # the same embeddings as each segment embedded alone
        torch.testing.assert_close(p[3], model(positive[3:4], "mix" if kind == "cross" else
                                               "mono")[0], rtol=1e-5, atol=1e-6)
    # the loss is the hinge rank loss of exactly those negatives
    cos = torch.nn.functional.cosine_similarity
    hand = sum(max(0.0, 0.1 - cos(a[i], p[i], dim=0) + cos(a[i], p[j], dim=0))
               for i in range(5) for j in slots[i].tolist()) / 5
    torch.testing.assert_close(hinge_rank_loss(a, p, n, margin=0.1), torch.as_tensor(hand))


def test_cross_learns_with_in_batch_negatives(dataset, tmp_path):
    params = TrainParams(epochs=8, negatives_from="batch", **FAST)
    train.fit(dataset, "cross", params, tmp_path / "cross")
    log = pd.read_csv(tmp_path / "cross" / "train_log.csv")
    assert log["valid_acc"].max() >= 1 / 6 + 0.5
    assert log["valid_loss"].iloc[-1] < log["valid_loss"].iloc[0]
    with pytest.raises(ConfigError, match="negatives_from"):
        TrainParams(negatives_from="memory")
    with pytest.raises(ConfigError, match="hard_negatives"):
        TrainParams(negatives_from="batch", hard_negatives=True)
    with pytest.raises(ConfigError, match="batch_size"):
        TrainParams(negatives_from="batch", negatives=4, batch_size=4)


def test_batches_are_pinned_only_for_a_cuda_device(dataset, tmp_path, monkeypatch):
    # pinned host memory lets the non_blocking copy to a GPU overlap the step; on CPU it is
    # useless (and torch warns), so the loop asks for it only when training on CUDA
    requested, real = [], train.data.loader

    def spy(ds, **kwargs):
        requested.append(kwargs["pin_memory"])
        return real(ds, **kwargs)

    monkeypatch.setattr(train.data, "loader", spy)
    train.fit(dataset, "mono", TrainParams(epochs=1, device="cpu", **FAST), tmp_path / "m")
    assert len(requested) == 2 and not any(requested)  # training and validation loaders
    tensors = torch.utils.data.TensorDataset(torch.zeros(2, 1))
    assert real(tensors, num_workers=0, seed=0, pin_memory=True).pin_memory
    assert not real(tensors, num_workers=0, seed=0).pin_memory


def test_bad_parameters_are_config_errors():
    with pytest.raises(ConfigError, match="batch_size"):
        TrainParams(batch_size=0)
    with pytest.raises(ConfigError, match="hard_candidates"):
        TrainParams(hard_negatives=True, hard_candidates=2)
    with pytest.raises(ConfigError, match="kind"):
        train.fit("nowhere", "stereo", TrainParams(), "out")


def test_cli_pretrains_and_trains_from_the_classifier(dataset, tmp_path):
    import json

    from pipeline.cli import main
    from pipeline.cli.train import init_argument

    params = json.dumps(dict(FAST, epochs=1, pretrain_epochs=1))
    assert main(["pretrain", "--dataset", str(dataset), "--domain", "mono",
                 "--out", str(tmp_path / "clf"), "--params", params]) == 0
    assert main(["train", "--dataset", str(dataset), "--kind", "mono", "--init-mono",
                 str(tmp_path / "clf"), "--out", str(tmp_path / "mono"), "--params", params]) == 0
    metrics = json.loads((tmp_path / "mono" / "metrics.json").read_text())
    assert metrics["pretrained"] is True and metrics["epochs_run"] == 1
    assert main(["train", "--dataset", str(dataset), "--kind", "mono", "--out",
                 str(tmp_path / "x"), "--params", '{"epoch": 1}']) == 2  # unknown key
    assert init_argument("mixed", None, "m") == {"mix": "m"}
    assert init_argument("cross", None, None) is None
    with pytest.raises(ConfigError, match="--init-mix and --init-mono"):
        init_argument("cross", "a", None)


def test_a_rerun_removes_the_temporaries_of_a_killed_run(dataset, tmp_path):
    """A SIGKILL during an atomic write leaves ``.<name>.<random>.tmp`` beside the output
    (a CI run of test_random_kills found one of checkpoint.pt); the next run removes it."""
    out = tmp_path / "run"
    out.mkdir()
    stale = out / ".checkpoint.pt.k1ll3d00.tmp"
    stale.write_bytes(b"half a checkpoint")
    mine = out / "notes.txt"
    mine.write_text("not a temporary")
    train.fit(dataset, "mixed", TrainParams(epochs=1, seed=5, **FAST), out)
    assert not stale.exists() and mine.read_text() == "not a temporary"
    assert (out / "model.pt").exists()
