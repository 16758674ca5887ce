"""The compact embedding network of Lee & Nam (2019, section 3.2) and its loss.

Skeleton (paper 3.2.1): a segment of 129 frames x 128 mel bands is convolved over time only
(the bands are the input channels): four blocks Conv1d(128, kernel 3) -> batch norm ->
LeakyReLU -> max-pool 3 take 129 frames to 43, 14, 4 and 1; a fifth Conv1d(256, kernel 1)
with batch norm and LeakyReLU, dropout, and the mean over time give a 256-d embedding.

Three embedding models (paper 3.2.2) differ only in which network sees which domain:
MONO and MIXED have one network for every input; CROSS has a "mono" network for
a-cappella inputs and a "mix" network for mixes, with no weights shared.  A classifier
(paper 3.2.3, pre-training) is one network plus a linear layer over the training singers.

Every model stores the dataset's per-domain log-mel mean and standard deviation as buffers
and standardises each input with the statistics of that input's domain, so callers pass raw
log-mel frames.
"""

from __future__ import annotations

import dataclasses

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..core.errors import ParameterError
from ..core.segment import N_MELS, SEGMENT_FRAMES
from ..core.vocabulary import (
    DOMAINS,
    KINDS,
    anchor_domain,
    domain_name,
    pretraining_domains,
    target_domain,
)

__all__ = ["ConvBlock", "EmbeddingModel", "ModelConfig", "NETWORK_KINDS", "Skeleton",
           "embed_mels", "hardest_negatives", "hinge_rank_loss", "triplet_embeddings"]

NETWORK_KINDS = KINDS + ("classifier",)  # the embedding models and the pre-training classifier


@dataclasses.dataclass(frozen=True)
class ModelConfig:
    """Architecture of one skeleton network (defaults: the paper's)."""

    n_mels: int = N_MELS  # input channels (mel bands)
    n_frames: int = SEGMENT_FRAMES  # input length (frames)
    channels: int = 128  # filters of the four kernel-3 convolutions
    n_blocks: int = 4  # conv + pool blocks
    kernel_size: int = 3  # frames
    pool_size: int = 3  # frames
    embedding_dim: int = 256  # filters of the final kernel-1 convolution
    dropout: float = 0.5  # the paper's 50 % (the authors' code used 0.3)
    leaky_slope: float = 0.2  # the authors' LeakyReLU(0.2); the paper does not say


class ConvBlock(nn.Module):
    """Conv1d over time ('same' padding) -> batch norm -> LeakyReLU -> optional max-pool."""

    def __init__(self, c_in: int, c_out: int, kernel_size: int, pool_size: int, slope: float):
        super().__init__()
        self.conv = nn.Conv1d(c_in, c_out, kernel_size, padding=kernel_size // 2)
        self.bn = nn.BatchNorm1d(c_out)
        self.act = nn.LeakyReLU(slope)
        self.pool = nn.MaxPool1d(pool_size) if pool_size > 1 else nn.Identity()

    def forward(self, x):
        return self.pool(self.act(self.bn(self.conv(x))))  # (B, C_out, T // pool)


class Skeleton(nn.Module):
    """The 5-layer 1-D CNN: (B, frames, bands) standardised log-mel -> (B, embedding_dim)."""

    def __init__(self, config: ModelConfig):
        super().__init__()
        c = config
        blocks = [ConvBlock(c.n_mels if i == 0 else c.channels, c.channels, c.kernel_size,
                            c.pool_size, c.leaky_slope) for i in range(c.n_blocks)]
        blocks.append(ConvBlock(c.channels, c.embedding_dim, 1, 1, c.leaky_slope))
        self.blocks = nn.Sequential(*blocks)
        self.dropout = nn.Dropout(c.dropout)

    def forward(self, x):
        x = x.transpose(1, 2)  # (B, bands, frames): bands are channels, convolve over time
        x = self.blocks(x)  # (B, embedding_dim, T'), T' = 1 for 129 frames
        x = self.dropout(x)
        return x.mean(dim=2)  # (B, embedding_dim)


class EmbeddingModel(nn.Module):
    """MONO, MIXED, CROSS or a singer classifier, with per-domain input standardisation.

    Parameters
    ----------
    kind : "mono" | "mixed" | "cross" | "classifier"
    config : ModelConfig
    normalisation : dict
        ``{"mono": {"mean": m, "std": s}, "mix": {...}}`` (the dataset card's).
    n_singers : int
        Output classes of the classifier head (``kind="classifier"`` only).
    domain : "mono" | "mix"
        The domain a classifier is trained on (its network's name).
    """

    def __init__(self, kind: str, config: ModelConfig = ModelConfig(), *, normalisation: dict,
                 n_singers: int = 0, domain: str | None = None):
        super().__init__()
        if kind not in NETWORK_KINDS:
            raise ParameterError(f"model kind {kind!r} not in {NETWORK_KINDS}")
        self.kind, self.config = kind, config
        if kind == "classifier":
            if domain not in DOMAINS or n_singers < 2:
                raise ParameterError("a classifier needs a domain in ('mono', 'mix') "
                                 "and n_singers >= 2")
            names = (domain,)
        else:
            names = pretraining_domains(kind)
        self.networks = nn.ModuleDict({name: Skeleton(config) for name in names})
        self.head = nn.Linear(config.embedding_dim, n_singers) if kind == "classifier" else None
        for d in DOMAINS:
            self.register_buffer(f"{d}_mean", torch.tensor(float(normalisation[d]["mean"])))
            self.register_buffer(f"{d}_std", torch.tensor(float(normalisation[d]["std"])))

    def network_for(self, domain: str) -> Skeleton:
        """The network that embeds inputs of ``domain`` (CROSS: by domain; else the only one)."""
        if domain not in DOMAINS:
            raise ParameterError(f"domain {domain!r} not in {DOMAINS}")
        if len(self.networks) == 1:
            return next(iter(self.networks.values()))
        return self.networks[domain]

    def forward(self, mels, domain: str):
        """Embed raw log-mel segments ``mels`` (B, frames, bands) of ``domain`` -> (B, D)."""
        mean, std = getattr(self, f"{domain}_mean"), getattr(self, f"{domain}_std")
        x = (mels - mean) / std  # (B, T, F)
        return self.network_for(domain)(x)  # (B, D)

    def logits(self, mels, domain: str):
        """Classifier scores over training singers (B, n_singers); softmax is in the loss."""
        return self.head(self.forward(mels, domain))  # (B, S)


def hinge_rank_loss(anchor, positive, negatives, *, margin: float = 0.1):
    """Hinge rank loss with cosine similarity (paper eq. 1), averaged over the batch.

    ``sum_n max(0, margin - S(a, p) + S(a, n))`` for each anchor ``a``.

    Parameters
    ----------
    anchor : torch.Tensor [shape=(B, D)]
    positive : torch.Tensor [shape=(B, D)]
    negatives : torch.Tensor [shape=(B, K, D)]
    margin : float

    Returns
    -------
    loss : torch.Tensor, scalar
    """
    pos = F.cosine_similarity(anchor, positive, dim=-1)  # (B,)
    neg = F.cosine_similarity(anchor.unsqueeze(1), negatives, dim=-1)  # (B, K)
    return F.relu(margin - pos.unsqueeze(1) + neg).sum(dim=1).mean()


def triplet_embeddings(model: EmbeddingModel, anchor, positive, negatives, *, kind: str):
    """Embed an (anchor, positive, negatives) batch as the model kind prescribes.

    MONO / MIXED push every input through their one network in a single batch (so batch
    norm sees them together); CROSS embeds anchors with the mono network and the positive
    and negatives with the mix network.

    Parameters
    ----------
    anchor, positive : torch.Tensor [shape=(B, T, F)]
    negatives : torch.Tensor [shape=(B, K, T, F)]

    Returns
    -------
    a : (B, D), p : (B, D), n : (B, K, D)
    """
    b, k = negatives.shape[:2]
    others = torch.cat([positive.unsqueeze(1), negatives], dim=1).flatten(0, 1)  # (B*(1+K), T, F)
    if kind == "cross":
        a = model(anchor, "mono")  # (B, D)
        o = model(others, "mix")  # (B*(1+K), D)
    else:
        z = model(torch.cat([anchor, others]), anchor_domain(kind))  # (B*(2+K), D)
        a, o = z[:b], z[b:]
    o = o.view(b, 1 + k, -1)  # (B, 1+K, D)
    return a, o[:, 0], o[:, 1:]


def in_batch_triplet_embeddings(model: EmbeddingModel, anchor, positive, slots, *, kind: str):
    """Embed an (anchor, positive) batch and take each item's negatives from the positives.

    Each segment is embedded once (MONO / MIXED in one batch of 2B, CROSS anchors with the
    mono network and positives with the mix network); item ``i``'s negatives are the
    positives' embeddings at ``slots[i]``, so their gradients reach those positives.

    Parameters
    ----------
    anchor, positive : torch.Tensor [shape=(B, T, F)]
    slots : torch.Tensor [shape=(B, K), int64]
        Positions into the batch (``sampling.in_batch_negatives``).

    Returns
    -------
    a : (B, D), p : (B, D), n : (B, K, D)
    """
    b = anchor.shape[0]
    if kind == "cross":
        a, p = model(anchor, "mono"), model(positive, "mix")
    else:
        z = model(torch.cat([anchor, positive]), anchor_domain(kind))  # (2B, D)
        a, p = z[:b], z[b:]
    return a, p, p[slots]


def hardest_negatives(model: EmbeddingModel, anchor, candidates, k: int):
    """The ``k`` candidates per item scoring highest against their anchor (paper 3.2.2).

    Scored in eval mode without gradients; the model's mode is restored.

    Parameters
    ----------
    anchor : torch.Tensor [shape=(B, T, F)]
    candidates : torch.Tensor [shape=(B, C, T, F)]

    Returns
    -------
    negatives : torch.Tensor [shape=(B, k, T, F)]
    """
    was_training = model.training
    model.eval()
    with torch.no_grad():
        b, c = candidates.shape[:2]
        a = model(anchor, anchor_domain(model.kind))  # (B, D)
        z = model(candidates.flatten(0, 1), target_domain(model.kind)).view(b, c, -1)  # (B, C, D)
        top = F.cosine_similarity(a.unsqueeze(1), z, dim=-1).topk(k, dim=1).indices  # (B, k)
    model.train(was_training)
    return candidates[torch.arange(b, device=top.device).unsqueeze(1), top]  # (B, k, T, F)


def embed_mels(model: EmbeddingModel, mels, domain: str, *, batch_size: int = 256):
    """Embed raw log-mel segments in eval mode, without gradients.

    Parameters
    ----------
    model : EmbeddingModel
    mels : np.ndarray [shape=(n, 129, 128)]
    domain : "mono" | "mix" ("mixed" is accepted); picks the CROSS network
    batch_size : int

    Returns
    -------
    embeddings : np.ndarray [shape=(n, embedding_dim), float32]
    """
    import numpy as np

    domain = domain_name(domain)
    model.eval()
    device = next(model.parameters()).device
    out = np.empty((len(mels), model.config.embedding_dim), dtype=np.float32)
    with torch.inference_mode():
        for i in range(0, len(mels), batch_size):
            x = torch.as_tensor(np.asarray(mels[i:i + batch_size], dtype=np.float32), device=device)
            out[i:i + len(x)] = model(x, domain).cpu().numpy()  # (b, D)
    return out
