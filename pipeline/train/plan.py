"""What a training config costs before anything is trained: items, batches and CPU time.

``plan_training`` counts, for every training job the DAG plans (``rules/train.smk``: one
classifier per domain, then MONO, MIXED and CROSS each from the classifiers and from scratch),
the items of one epoch exactly as ``pipeline.train.loop`` draws them, the batches, the items
and segments over the schedule, and a CPU-time estimate from a measured training throughput.

What the estimate counts: forward + backward + step of every training segment (a classified
segment is one segment; a metric-learning item is its anchor, its positive and its
negatives). It leaves out validation (forward only: ``valid_items`` triplets plus
``centroid_segments`` per training singer and epoch; at DAMP size about 24,000 forward passes
per epoch against 180,000 to 1,080,000 trained segments), data loading (overlapped, 16.8x faster than the model in ``bench/bench_train.py``) and
evaluation. The segment counts are upper bounds when ``windows_per_performance`` is the SVD
cap (``svd.max_windows``): a performance with fewer voiced windows, or windows the join could
not match, contributes fewer.
"""

from __future__ import annotations

import dataclasses

from ..core.errors import ConfigError
from ..core.vocabulary import DOMAINS, INITS, KINDS, MODEL_NAMES, anchor_domain
from .params import TrainParams

__all__ = ["AUTHORS_STOP_EPOCH", "MEASURED_SEGMENTS_PER_S", "RunPlan", "TrainingPlan",
           "epoch_items", "format_plan", "plan_training"]

# README "Measured speed": training forward + backward, MONO, 1 thread (bench/bench_train.py).
MEASURED_SEGMENTS_PER_S = 1009.0
# Metric-learning epochs a run lasts before early stopping ends it, assumed: the authors'
# released CROSS and MIXED checkpoints are their best epochs 20 and 18
# (damp_siamese/models/*.pretrained38.{20,18}.h5), so with patience 10 their runs ended at
# epochs 30 and 28.
AUTHORS_STOP_EPOCH = 30


@dataclasses.dataclass(frozen=True)
class RunPlan:
    """One kind of training job.

    Attributes
    ----------
    name : str                 ``pretrain-mono``, ``MONO``, ...
    runs : int                 jobs of this kind (2 for an embedding model: pretrained, scratch)
    items_per_epoch : int      anchors (classifier: classified segments) per epoch and run
    batches_per_epoch : int    batches per epoch and run
    segments_per_item : int    segments through forward + backward per item
    epochs : int               epochs per run assumed for the estimate
    max_epochs : int           epochs per run at most (the config's limit)
    segments_per_s : float     training throughput the estimate assumes [segments/s]
    """

    name: str
    runs: int
    items_per_epoch: int
    batches_per_epoch: int
    segments_per_item: int
    epochs: int
    max_epochs: int
    segments_per_s: float

    @property
    def items(self) -> int:
        """Items over the assumed schedule, all runs."""
        return self.runs * self.epochs * self.items_per_epoch

    @property
    def segments(self) -> int:
        """Segments through forward + backward over the assumed schedule, all runs."""
        return self.items * self.segments_per_item

    @property
    def cpu_hours(self) -> float:
        """Estimated training time over the assumed schedule, all runs [hours at the rate]."""
        return self.segments / self.segments_per_s / 3600.0

    @property
    def max_cpu_hours(self) -> float:
        """The same at ``max_epochs`` (no early stopping) [hours]."""
        return self.cpu_hours * self.max_epochs / self.epochs


@dataclasses.dataclass(frozen=True)
class TrainingPlan:
    """Every training job of the DAG, with totals.

    Attributes
    ----------
    runs : tuple of RunPlan   the classifiers first, then the embedding models
    train_performances : int  performances of subset "train"
    segments : dict           training segments per domain ("mono", "mix")
    """

    runs: tuple
    train_performances: int
    segments: dict

    @property
    def items(self) -> int:
        return sum(r.items for r in self.runs)

    @property
    def cpu_hours(self) -> float:
        return sum(r.cpu_hours for r in self.runs)

    @property
    def max_cpu_hours(self) -> float:
        return sum(r.max_cpu_hours for r in self.runs)


def epoch_items(segments: int, params: TrainParams) -> tuple[int, int]:
    """Items and batches of one epoch over a pool of ``segments``, as the loop draws them.

    ``items_per_epoch`` null is one pass over the pool; a number is that many items (several
    passes if needed). Either is rounded down to whole batches unless below one batch
    (``pipeline.train.loop._whole_batches``).

    Returns
    -------
    items, batches : int
    """
    n = segments if params.items_per_epoch is None else params.items_per_epoch
    n = n if n < params.batch_size else n - n % params.batch_size
    return n, -(-n // params.batch_size)


def plan_training(train_performances: int, windows_per_performance: int, params: TrainParams,
                  *, mixes_per_window: int = 1,
                  segments_per_s: float = MEASURED_SEGMENTS_PER_S,
                  metric_epochs: int | None = AUTHORS_STOP_EPOCH) -> TrainingPlan:
    """Plan the DAG's training jobs for a split and a ``train`` config section.

    Parameters
    ----------
    train_performances : int
        Performances of subset "train" (validation performances excluded).
    windows_per_performance : int
        Vocal windows per performance (one mono segment each; at most ``svd.max_windows``).
    params : TrainParams
    mixes_per_window : int
        Mixes per vocal window (``mashup.mixes_per_window``): the mix pool's size factor.
    segments_per_s : float
        Training throughput, forward + backward + step [segments/s].
    metric_epochs : int or None
        Metric-learning epochs per run assumed before early stopping ends it, capped at
        ``params.epochs``; None assumes ``params.epochs``. Classifiers are assumed to run
        all ``pretrain_epochs``.

    Returns
    -------
    TrainingPlan
    """
    if min(train_performances, windows_per_performance, mixes_per_window) < 1:
        raise ConfigError("plan: training performances, windows per performance and mixes "
                          "per window must be >= 1")
    if not segments_per_s > 0:
        raise ConfigError(f"plan: segments_per_s must be > 0, got {segments_per_s}")
    mono = train_performances * windows_per_performance
    segments = {"mono": mono, "mix": mono * mixes_per_window}
    epochs = params.epochs if metric_epochs is None else min(metric_epochs, params.epochs)
    if epochs < 1:
        raise ConfigError(f"plan: metric_epochs must be >= 1, got {metric_epochs}")
    runs = []
    for domain in DOMAINS:
        items, batches = epoch_items(segments[domain], params)
        runs.append(RunPlan(f"pretrain-{domain}", 1, items, batches, 1, params.pretrain_epochs,
                            params.pretrain_epochs, segments_per_s))
    per_item = 2 + (params.hard_candidates if params.hard_negatives else params.negatives)
    if params.negatives_from == "batch":  # negatives are the batch's positives
        per_item = 2
    for kind in KINDS:
        items, batches = epoch_items(segments[anchor_domain(kind)], params)
        runs.append(RunPlan(MODEL_NAMES[kind], len(INITS), items, batches, per_item, epochs,
                            params.epochs, segments_per_s))
    return TrainingPlan(tuple(runs), train_performances, segments)


def format_plan(plan: TrainingPlan) -> str:
    """The plan as a fixed-width text table (one row per kind of job, then the total)."""
    head = ("job", "runs", "items/epoch", "batches/epoch", "segments/item", "epochs (max)",
            "items total", "CPU-hours (max)")
    rows = [(r.name, f"{r.runs}", f"{r.items_per_epoch:,}", f"{r.batches_per_epoch:,}",
             f"{r.segments_per_item}", f"{r.epochs} ({r.max_epochs})", f"{r.items:,}",
             f"{r.cpu_hours:,.1f} ({r.max_cpu_hours:,.1f})") for r in plan.runs]
    rows.append(("total", f"{sum(r.runs for r in plan.runs)}", "", "", "", "",
                 f"{plan.items:,}", f"{plan.cpu_hours:,.1f} ({plan.max_cpu_hours:,.1f})"))
    widths = [max(len(row[i]) for row in [head, *rows]) for i in range(len(head))]
    line = "  ".join
    return "\n".join(line(c.ljust(w) if i == 0 else c.rjust(w)
                          for i, (c, w) in enumerate(zip(row, widths)))
                     for row in [head, *rows])
