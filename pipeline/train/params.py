"""The ``train`` config section and the device it names."""

from __future__ import annotations

import dataclasses

import torch

from ..core.errors import ConfigError

__all__ = ["CROSS_INITS", "NEGATIVE_SOURCES", "TrainParams", "resolve_device"]

CROSS_INITS = ("mono", "mix", "domains")  # train.cross_init: the classifier(s) CROSS starts from
NEGATIVE_SOURCES = ("dataset", "batch")  # train.negatives_from


@dataclasses.dataclass(frozen=True)
class TrainParams:
    """The ``train`` config section (pre-training and metric learning).

    The defaults train one model in a few minutes on 2 CPU cores (``items_per_epoch``
    bounds an epoch); the paper's setup is ``items_per_epoch=None`` (every training
    segment once per epoch) and ``epochs`` large enough for early stopping to end the run.
    """

    epochs: int = 20  # metric-learning epochs (at most; early stopping may end sooner)
    pretrain_epochs: int = 30  # classification epochs (the paper: 30)
    items_per_epoch: int | None = 1024  # anchors (or classified segments) per epoch; None: all
    batch_size: int = 32
    lr: float = 0.001
    momentum: float = 0.9
    nesterov: bool = True
    weight_decay: float = 0.0  # L2 on all weights (the authors: 1e-5 on the kernels)
    lr_factor: float = 0.2  # ReduceLROnPlateau factor (the authors: 0.2)
    lr_patience: int = 2  # epochs without improvement before the lr drops (the authors: 2)
    min_lr: float = 1.6e-5  # (the authors: 1.6e-5)
    patience: int = 10  # early-stopping patience in epochs (the authors: 10)
    margin: float = 0.1  # hinge rank loss margin (the paper: 0.1)
    negatives: int = 4  # negatives per anchor (the paper: 4)
    hard_negatives: bool = False  # keep the top `negatives` of `hard_candidates` by score
    hard_candidates: int = 20
    negatives_from: str = "dataset"  # "dataset": drawn segments (the paper); "batch": the other
    # items' positives of the same batch, embedded once (2 instead of 2 + K segments an item)
    dropout: float = 0.5  # the paper: 50 %
    cross_init: str = "mono"  # CROSS from pre-training: both networks from this classifier,
    # as the authors' train.py does ("domains": each network from its own domain's classifier)
    valid_items: int = 512  # validation anchors / queries
    centroid_segments: int = 20  # training segments per singer in its validation centroid
    num_workers: int = 0  # DataLoader worker processes
    threads: int = 0  # torch intra-op threads (0: torch's default)
    device: str = "auto"  # "auto" (CUDA when present), "cpu", "cuda", "cuda:1", ...
    seed: int | None = None  # None: the global seed a driver passes (--seed), else 0

    def __post_init__(self):
        if self.seed is None:
            object.__setattr__(self, "seed", 0)
        for name in ("epochs", "pretrain_epochs", "batch_size", "negatives", "hard_candidates",
                     "valid_items", "centroid_segments", "lr_patience", "patience"):
            if getattr(self, name) < 1:
                raise ConfigError(f"train.{name} must be >= 1, got {getattr(self, name)}")
        if self.items_per_epoch is not None and self.items_per_epoch < 2:
            raise ConfigError("train.items_per_epoch must be >= 2 or null, "
                              f"got {self.items_per_epoch}")
        if self.negatives_from not in NEGATIVE_SOURCES:
            raise ConfigError(f"train.negatives_from must be one of {NEGATIVE_SOURCES}, "
                              f"got {self.negatives_from!r}")
        if self.negatives_from == "batch" and (self.hard_negatives
                                               or self.negatives >= self.batch_size):
            raise ConfigError("train.negatives_from: batch needs train.hard_negatives: false "
                              "and train.negatives < train.batch_size")
        if self.hard_negatives and self.hard_candidates < self.negatives:
            raise ConfigError("train.hard_candidates must be >= train.negatives")
        if not (self.lr > 0 and 0 < self.lr_factor < 1 and 0 <= self.dropout < 1):
            raise ConfigError("train: lr must be > 0, lr_factor in (0, 1), dropout in [0, 1)")
        if self.cross_init not in CROSS_INITS:
            raise ConfigError(f"train.cross_init must be one of {CROSS_INITS}, "
                              f"got {self.cross_init!r}")
        if self.num_workers < 0 or self.threads < 0:
            raise ConfigError("train.num_workers and train.threads must be >= 0")


def resolve_device(name: str) -> torch.device:
    """``"auto"`` -> CUDA when available, else CPU; anything else as torch spells it."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        return torch.device(name)
    except RuntimeError:
        raise ConfigError(f"train.device: {name!r} is not a torch device") from None
