"""The skeleton network, the three embedding models, the hinge rank loss, model files."""

import json
import math

import numpy as np
import pytest
import torch

from pipeline.core.errors import PipelineError
from pipeline.train.checkpoint import load_model, save_model
from pipeline.train.model import (
    EmbeddingModel,
    ModelConfig,
    embed_mels,
    hinge_rank_loss,
    triplet_embeddings,
)

NORM = {"mono": {"mean": 1.0, "std": 2.0}, "mix": {"mean": -0.5, "std": 0.5}}


def n_params(module):
    return sum(p.numel() for p in module.parameters())


def test_parameter_count_matches_the_paper_architecture():
    # conv(k=3) weights + bias + batch-norm scale and shift, four times; then conv(k=1) 128 -> 256.
    block = 128 * 128 * 3 + 128 + 2 * 128
    last = 128 * 256 * 1 + 256 + 2 * 256
    skeleton = 4 * block + last
    assert skeleton == 231_680
    assert n_params(EmbeddingModel("mono", normalisation=NORM)) == skeleton
    assert n_params(EmbeddingModel("mixed", normalisation=NORM)) == skeleton
    assert n_params(EmbeddingModel("cross", normalisation=NORM)) == 2 * skeleton
    clf = EmbeddingModel("classifier", normalisation=NORM, n_singers=7, domain="mix")
    assert n_params(clf) == skeleton + 256 * 7 + 7


def test_shapes_through_the_network(rng):
    model = EmbeddingModel("mono", normalisation=NORM).eval()
    lengths = []
    for block in model.networks["mono"].blocks:
        block.register_forward_hook(lambda m, i, o: lengths.append(tuple(o.shape[1:])))
    x = torch.as_tensor(rng.standard_normal((3, 129, 128)), dtype=torch.float32)
    z = model(x, "mono")
    assert z.shape == (3, 256)
    # 129 frames pooled by 3 four times: 43, 14, 4, 1; the last conv keeps one frame.
    assert lengths == [(128, 43), (128, 14), (128, 4), (128, 1), (256, 1)]
    clf = EmbeddingModel("classifier", normalisation=NORM, n_singers=5, domain="mono").eval()
    assert clf.logits(x, "mono").shape == (3, 5)


def test_inputs_are_standardised_with_their_domains_statistics(rng):
    torch.manual_seed(0)
    model = EmbeddingModel("mono", normalisation=NORM).eval()
    x = torch.as_tensor(rng.standard_normal((2, 129, 128)), dtype=torch.float32)
    net = model.networks["mono"]
    torch.testing.assert_close(model(x, "mono"), net((x - 1.0) / 2.0))
    torch.testing.assert_close(model(x, "mix"), net((x + 0.5) / 0.5))


def test_cross_uses_two_unshared_networks(rng):
    torch.manual_seed(0)
    model = EmbeddingModel("cross", normalisation=NORM).eval()
    mono, mix = model.networks["mono"], model.networks["mix"]
    assert not any(p is q for p in mono.parameters() for q in mix.parameters())
    a, p = (torch.as_tensor(rng.standard_normal((2, 129, 128)), dtype=torch.float32) for _ in "ap")
    n = torch.as_tensor(rng.standard_normal((2, 4, 129, 128)), dtype=torch.float32)
    za, zp, zn = triplet_embeddings(model, a, p, n, kind="cross")
    torch.testing.assert_close(za, mono((a - 1.0) / 2.0))
    torch.testing.assert_close(zp, mix((p + 0.5) / 0.5))
    torch.testing.assert_close(zn[1, 3], mix((n[1, 3:4] + 0.5) / 0.5)[0])


def test_single_network_models_embed_a_batch_in_one_pass(rng):
    torch.manual_seed(0)
    model = EmbeddingModel("mixed", normalisation=NORM).eval()
    a, p = (torch.as_tensor(rng.standard_normal((2, 129, 128)), dtype=torch.float32) for _ in "ap")
    n = torch.as_tensor(rng.standard_normal((2, 4, 129, 128)), dtype=torch.float32)
    za, zp, zn = triplet_embeddings(model, a, p, n, kind="mixed")
    assert zn.shape == (2, 4, 256)
    torch.testing.assert_close(za, model(a, "mix"))
    torch.testing.assert_close(zn[0, 2], model(n[0, 2:3], "mix")[0])


def test_hinge_rank_loss_equals_a_hand_computation():
    anchor = torch.tensor([[1.0, 0.0], [0.0, 2.0]])
    positive = torch.tensor([[1.0, 1.0], [0.0, 1.0]])
    negatives = torch.tensor([[[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0], [1.0, 1.0]],
                              [[1.0, 0.0], [3.0, 3.0], [0.0, -1.0], [0.0, 5.0]]])
    r = 1 / math.sqrt(2)
    # item 0: S(a,p) = r; S(a,n) = 1, 0, -1, r
    item0 = (0.1 - r + 1) + max(0, 0.1 - r + 0) + max(0, 0.1 - r - 1) + (0.1 - r + r)
    # item 1: S(a,p) = 1; S(a,n) = 0, r, -1, 1
    item1 = max(0, 0.1 - 1 + 0) + max(0, 0.1 - 1 + r) + 0 + (0.1 - 1 + 1)
    loss = hinge_rank_loss(anchor, positive, negatives, margin=0.1)
    assert loss.item() == pytest.approx((item0 + item1) / 2, abs=1e-6)
    assert hinge_rank_loss(anchor, positive, negatives, margin=0.0).item() == \
        pytest.approx(((1 - r) + 0) / 2, abs=1e-6)


def test_loss_gradient_reaches_every_network(rng):
    model = EmbeddingModel("cross", normalisation=NORM).train()
    a, p = (torch.as_tensor(rng.standard_normal((3, 129, 128)), dtype=torch.float32) for _ in "ap")
    n = torch.as_tensor(rng.standard_normal((3, 4, 129, 128)), dtype=torch.float32)
    hinge_rank_loss(*triplet_embeddings(model, a, p, n, kind="cross"), margin=1.0).backward()
    for name in ("mono", "mix"):
        grad = model.networks[name].blocks[0].conv.weight.grad
        assert grad is not None and grad.abs().sum() > 0


def test_saved_model_is_self_describing_and_embeds_identically(tmp_path, rng):
    torch.manual_seed(1)
    model = EmbeddingModel("classifier", ModelConfig(dropout=0.3), normalisation=NORM,
                           n_singers=3, domain="mix")
    save_model(model, tmp_path, {"singers": ["a", "b", "c"], "dataset_version": "v9"})
    info = json.loads((tmp_path / "model.json").read_text())
    assert info["kind"] == "classifier" and info["domain"] == "mix"
    assert info["config"]["dropout"] == 0.3 and info["normalisation"] == NORM
    loaded = load_model(tmp_path / "model.pt")
    mels = rng.standard_normal((5, 129, 128)).astype(np.float32)
    z = embed_mels(loaded, mels, "mix", batch_size=2)
    assert z.shape == (5, 256) and z.dtype == np.float32
    np.testing.assert_array_equal(z, embed_mels(model, mels, "mix", batch_size=2))
    assert not loaded.training


def test_loading_a_missing_model_names_the_file(tmp_path):
    with pytest.raises(PipelineError, match="model.json"):
        load_model(tmp_path)
