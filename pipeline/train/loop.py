"""Training: classification pre-training and MONO / MIXED / CROSS metric learning.

``pretrain`` fits a singer classifier on one domain (paper 3.2.3); ``fit`` trains an
embedding model with the hinge rank loss, from scratch or from the classifiers (their
output layer dropped, nothing frozen).  Both share one loop: SGD with Nesterov momentum,
ReduceLROnPlateau and early stopping on the validation loss (the authors' release), one
atomic checkpoint per epoch, and exact resumption: a run killed during epoch k and started
again ends with the same weights as an uninterrupted run (CPU, same seed).

Each run writes to ``out_dir``: ``checkpoint.pt`` (every epoch), ``train_log.csv`` (epoch,
train_loss, valid_loss, valid_acc, lr, seconds), and at the end ``model.pt``, ``model.json``
(the weights of the epoch with the lowest validation loss) and ``metrics.json``.

Validation each epoch: the loss on held-out performances of the training singers (subset
"valid") and singer-ID accuracy of valid segments against per-singer mean embeddings of
training segments (CROSS: mono queries against mix centroids).
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import time
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from ..analysis.voicing import spread_evenly
from ..core.atomic import remove_temporaries, write_json, write_text
from ..core.errors import ConfigError, PipelineError
from ..core.random import rng_for
from ..core.tables import TRAIN_LOG
from ..core.vectors import group_means, unit_rows
from ..core.vocabulary import KINDS, anchor_domain, target_domain
from ..dataset.reader import ShardReader, read_card, read_index
from . import sampling as data
from .checkpoint import init_from_classifiers, save_model, save_torch
from .model import (
    EmbeddingModel,
    ModelConfig,
    embed_mels,
    hardest_negatives,
    hinge_rank_loss,
    in_batch_triplet_embeddings,
    triplet_embeddings,
)
from .params import TrainParams, resolve_device

__all__ = ["centroid_accuracy", "fit", "pretrain"]

log = logging.getLogger(__name__)

TRAIN_STREAM, VALID_STREAM = 0, 1  # sampling streams of epoch_rng


@dataclasses.dataclass
class _Task:
    """What differs between pre-training and metric learning, for the shared loop."""

    model: EmbeddingModel
    batches: Callable[[int], torch.utils.data.Dataset]  # epoch -> pre-batched dataset
    step: Callable[[tuple], torch.Tensor]  # batch -> loss
    valid_batches: torch.utils.data.Dataset
    query_domain: str
    queries: tuple  # (pool, rows) of the validation queries
    centroids: tuple  # (pool, rows) of the training segments forming singer centroids
    info: dict  # model.json content besides what save_model fills in


class _Data:
    """A dataset version's index, card, reader and training-singer list."""

    def __init__(self, dataset_dir):
        self.dir = Path(dataset_dir)
        self.card = read_card(dataset_dir)
        self.index = read_index(dataset_dir)
        self.index["window"] = data.window_codes(self.index)
        self.reader = ShardReader(dataset_dir)
        self.singers = tuple(sorted(self.index.loc[self.index["subset"] == "train", "singer"]
                                    .astype(str).unique()))
        if len(self.singers) < 2:
            raise PipelineError(f"{self.dir}: fewer than two training singers")

    def pool(self, domain: str, subsets) -> data.Pool:
        return data.make_pool(self.index, domain=domain, subsets=subsets, singers=self.singers)

    def valid_pool(self, domain: str) -> data.Pool:
        pool = self.pool(domain, ["valid"])
        if len(pool) == 0:
            raise PipelineError(f"{self.dir}: no 'valid' segments of the training singers")
        return pool

    def info(self) -> dict:
        return {"dataset_version": self.card.get("version"), "mel": self.card.get("mel", {})}


def _whole_batches(n: int, batch_size: int) -> int:
    """Round an epoch down to whole batches (batch norm needs more than one item)."""
    return n if n < batch_size else n - n % batch_size


def pretrain(dataset_dir, domain: str, params: TrainParams, out_dir, *,
             on_epoch_end: Callable[[int, dict], None] | None = None) -> dict:
    """Train a singer classifier on ``domain`` ("mono" | "mix") segments of subset "train".

    Returns the metrics dict also written to ``out_dir/metrics.json``.
    """
    if domain not in ("mono", "mix"):
        raise ConfigError(f"pretrain domain {domain!r} not in ('mono', 'mix')")
    ds = _Data(dataset_dir)
    torch.manual_seed(params.seed)
    model = EmbeddingModel("classifier", ModelConfig(dropout=params.dropout),
                           normalisation=ds.card["normalisation"], n_singers=len(ds.singers),
                           domain=domain)
    train_pool, valid_pool = ds.pool(domain, ["train"]), ds.valid_pool(domain)
    n_items = len(train_pool) if params.items_per_epoch is None else params.items_per_epoch
    n_items = _whole_batches(n_items, params.batch_size)

    def batches(epoch):
        rng = rng_for(params.seed, TRAIN_STREAM, epoch)
        passes = -(-n_items // len(train_pool))
        which = np.concatenate([rng.permutation(len(train_pool)) for _ in range(passes)])[:n_items]
        return data.SegmentBatches(ds.reader, train_pool, which, params.batch_size)

    def step(batch):
        mels, labels = batch
        return F.cross_entropy(model.logits(mels, domain), labels)

    queries = spread_evenly(len(valid_pool), params.valid_items)
    task = _Task(model=model, batches=batches, step=step,
                 valid_batches=data.SegmentBatches(ds.reader, valid_pool, queries,
                                                   params.batch_size),
                 query_domain=domain, queries=(valid_pool, queries),
                 centroids=(train_pool,
                            data.spread_per_singer(train_pool, params.centroid_segments)),
                 info=dict(ds.info(), singers=list(ds.singers)))
    return _run(task, params, params.pretrain_epochs, out_dir, kind="classifier",
                fingerprint={"domain": domain}, on_epoch_end=on_epoch_end)


def fit(dataset_dir, kind: str, params: TrainParams, out_dir, init=None, *,
        on_epoch_end: Callable[[int, dict], None] | None = None) -> dict:
    """Train a MONO, MIXED or CROSS embedding model with the hinge rank loss.

    Parameters
    ----------
    dataset_dir : path  a dataset version
    kind : "mono" | "mixed" | "cross"
    params : TrainParams
    out_dir : path
    init : None, path, or dict
        None trains from scratch.  MONO / MIXED: the folder of the mono / mix classifier
        (or ``{"mono": path}`` / ``{"mix": path}``); CROSS: ``{"mono": path, "mix": path}``.
    on_epoch_end : callable(epoch, record) or None
        Called after each epoch's checkpoint is written (tests stop a run here).

    Returns
    -------
    metrics : dict  (also written to ``out_dir/metrics.json``)
    """
    if kind not in KINDS:
        raise ConfigError(f"model kind {kind!r} not in {KINDS}")
    ds = _Data(dataset_dir)
    torch.manual_seed(params.seed)
    model = EmbeddingModel(kind, ModelConfig(dropout=params.dropout),
                           normalisation=ds.card["normalisation"])
    init_paths = init_from_classifiers(model, init, cross_init=params.cross_init)
    a_dom, t_dom = anchor_domain(kind), target_domain(kind)
    anchors = ds.pool(a_dom, ["train"])
    targets = anchors if a_dom == t_dom else ds.pool(t_dom, ["train"])
    candidates = data.usable_anchors(anchors, targets)
    n_items = len(candidates) if params.items_per_epoch is None else params.items_per_epoch
    n_items = _whole_batches(n_items, params.batch_size)
    k = params.hard_candidates if params.hard_negatives else params.negatives
    in_batch = params.batch_size if params.negatives_from == "batch" else None

    def batches(epoch):
        plan = data.plan_triplets(anchors, targets, n_items=n_items, negatives=k,
                                  rng=rng_for(params.seed, TRAIN_STREAM, epoch),
                                  candidates=candidates, in_batch=in_batch)
        return data.TripletBatches(ds.reader, anchors, targets, plan, params.batch_size)

    def step(batch):
        anchor, positive, negatives = batch
        if in_batch:
            a, p, n = in_batch_triplet_embeddings(model, anchor, positive, negatives, kind=kind)
            return hinge_rank_loss(a, p, n, margin=params.margin)
        if params.hard_negatives:
            negatives = hardest_negatives(model, anchor, negatives, params.negatives)
        a, p, n = triplet_embeddings(model, anchor, positive, negatives, kind=kind)
        return hinge_rank_loss(a, p, n, margin=params.margin)

    # Validation anchors are held-out performances; positives and negatives come from both.
    v_anchors = ds.valid_pool(a_dom)
    v_targets = ds.pool(t_dom, ["train", "valid"])
    v_plan = data.plan_triplets(v_anchors, v_targets, negatives=params.negatives,
                                n_items=min(params.valid_items, len(v_anchors)),
                                rng=rng_for(params.seed, VALID_STREAM, 0))
    task = _Task(model=model, batches=batches, step=step,
                 valid_batches=data.TripletBatches(ds.reader, v_anchors, v_targets, v_plan,
                                                   params.batch_size),
                 query_domain=a_dom,
                 queries=(v_anchors, spread_evenly(len(v_anchors), params.valid_items)),
                 centroids=(targets, data.spread_per_singer(targets, params.centroid_segments)),
                 info=dict(ds.info(), init=init_paths, train_singers=len(ds.singers)))

    def valid_step(batch):
        a, p, n = triplet_embeddings(model, *batch, kind=kind)
        return hinge_rank_loss(a, p, n, margin=params.margin)

    return _run(task, params, params.epochs, out_dir, kind=kind, valid_step=valid_step,
                fingerprint={"init": init_paths}, on_epoch_end=on_epoch_end)


def centroid_accuracy(model, reader, *, query_domain: str, queries: tuple, centroids: tuple,
                      batch_size: int = 256) -> float:
    """Share of query segments whose nearest singer centroid (cosine) is their singer."""
    (q_pool, q_rows), (c_pool, c_rows) = queries, centroids
    if len(q_rows) == 0:
        return float("nan")
    q = _embed_rows(model, reader, q_pool, q_rows, query_domain, batch_size)
    c = _embed_rows(model, reader, c_pool, c_rows, c_pool.domain, batch_size)
    labels = c_pool.singer[c_rows]
    means, counts = group_means(c, labels, len(c_pool.singers))
    present = counts > 0
    cents = unit_rows(means[present])
    q = unit_rows(q)
    guess = np.flatnonzero(present)[np.argmax(q @ cents.T, axis=1)]
    return float(np.mean(guess == q_pool.singer[q_rows]))


def _embed_rows(model, reader, pool, rows, domain, batch_size):
    out = []
    for i in range(0, len(rows), batch_size):
        r = rows[i:i + batch_size]
        out.append(embed_mels(model, reader.gather(pool.domain, pool.shard[r], pool.row[r]),
                              domain, batch_size=batch_size))
    return np.concatenate(out).astype(np.float64)


def _to(batch, device):
    return tuple(t.to(device, non_blocking=True) for t in batch)


def _run(task: _Task, params: TrainParams, epochs: int, out_dir, *, kind: str, fingerprint: dict,
         valid_step=None, on_epoch_end=None) -> dict:
    """The shared loop: train, validate, schedule, checkpoint, stop early, save the best."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    for stale in remove_temporaries(out_dir):  # a killed run's half-written checkpoint
        log.info("removed %s, left by a killed run", stale)
    device = resolve_device(params.device)
    with _torch_settings(threads=params.threads):
        return _loop(task, params, epochs, out_dir, device, kind=kind, fingerprint=fingerprint,
                     valid_step=valid_step, on_epoch_end=on_epoch_end)


@contextlib.contextmanager
def _torch_settings(*, threads: int):
    """Deterministic algorithms and ``threads`` intra-op threads, restored afterwards."""
    previous = (torch.get_num_threads(), torch.are_deterministic_algorithms_enabled(),
                torch.is_deterministic_algorithms_warn_only_enabled())
    if threads:
        torch.set_num_threads(threads)
    torch.use_deterministic_algorithms(True, warn_only=True)
    try:
        yield
    finally:
        torch.set_num_threads(previous[0])
        torch.use_deterministic_algorithms(previous[1], warn_only=previous[2])


def _loop(task: _Task, params: TrainParams, epochs: int, out_dir: Path, device, *, kind: str,
          fingerprint: dict, valid_step, on_epoch_end) -> dict:
    model = task.model.to(device)
    valid_step = valid_step or task.step
    optimizer = torch.optim.SGD(model.parameters(), lr=params.lr, momentum=params.momentum,
                                nesterov=params.nesterov, weight_decay=params.weight_decay)
    scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(
        optimizer, mode="min", factor=params.lr_factor, patience=params.lr_patience,
        min_lr=params.min_lr)
    runtime = {"num_workers", "threads", "device"}
    key = json.dumps({"kind": kind, "dataset_version": task.info.get("dataset_version"),
                      "params": {k: v for k, v in dataclasses.asdict(params).items()
                                 if k not in runtime}, **fingerprint}, sort_keys=True)
    state = {"epoch": 0, "best_loss": float("inf"), "best_epoch": 0, "best_state": None,
             "bad_epochs": 0, "history": [], "done": False}
    ckpt_path = out_dir / "checkpoint.pt"
    if ckpt_path.exists():
        ckpt = torch.load(ckpt_path, map_location="cpu", weights_only=True)
        if ckpt.get("key") == key:
            model.load_state_dict(ckpt["model"])
            optimizer.load_state_dict(ckpt["optimizer"])
            scheduler.load_state_dict(ckpt["scheduler"])
            torch.set_rng_state(ckpt["rng"])
            if device.type == "cuda" and ckpt.get("cuda_rng") is not None:
                torch.cuda.set_rng_state_all(ckpt["cuda_rng"])
            state = ckpt["state"]
            log.info("%s: resuming after epoch %d", out_dir, state["epoch"])
        else:
            log.warning("%s: checkpoint from other settings ignored", ckpt_path)
    while not state["done"] and state["epoch"] < epochs:
        epoch = state["epoch"] + 1
        start = time.perf_counter()
        model.train()
        total, count = 0.0, 0
        batches = data.loader(task.batches(epoch), num_workers=params.num_workers,
                              seed=params.seed + epoch, pin_memory=device.type == "cuda")
        bar = tqdm(batches, desc=f"{out_dir.name} {epoch}/{epochs}", disable=None)
        for batch in bar:
            loss = task.step(_to(batch, device))
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            total, count = total + loss.item(), count + 1
            bar.set_postfix(loss=f"{total / count:.4f}")
        valid_loss, valid_acc = _validate(task, model, valid_step, params, device)
        bar.set_postfix(loss=f"{total / max(count, 1):.4f}", valid=f"{valid_loss:.4f}",
                        acc=f"{valid_acc:.3f}")
        bar.close()
        lr = optimizer.param_groups[0]["lr"]
        scheduler.step(valid_loss)
        record = {"epoch": epoch, "train_loss": total / max(count, 1), "valid_loss": valid_loss,
                  "valid_acc": valid_acc, "lr": lr, "seconds": time.perf_counter() - start}
        state["history"].append(record)
        state["epoch"] = epoch
        if valid_loss < state["best_loss"]:
            best_state = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
            state.update(best_loss=valid_loss, best_epoch=epoch, bad_epochs=0,
                         best_state=best_state)
        else:
            state["bad_epochs"] += 1
        state["done"] = state["bad_epochs"] >= params.patience or epoch >= epochs
        log.info("%s epoch %d: train %.4f valid %.4f acc %.3f lr %.2g", out_dir.name, epoch,
                 record["train_loss"], valid_loss, valid_acc, lr)
        cuda_rng = torch.cuda.get_rng_state_all() if device.type == "cuda" else None
        save_torch(ckpt_path, {"key": key, "model": model.state_dict(),
                               "optimizer": optimizer.state_dict(),
                               "scheduler": scheduler.state_dict(), "rng": torch.get_rng_state(),
                               "cuda_rng": cuda_rng, "state": state})
        _write_log(out_dir, state)
        if on_epoch_end is not None:
            on_epoch_end(epoch, record)
    # Again after the loop: a run killed after its last checkpoint resumes with nothing left to
    # train, and Snakemake removed the log (an output) before rerunning the job.
    _write_log(out_dir, state)
    return _finish(task, model, state, params, out_dir, kind)


def _write_log(out_dir: Path, state: dict) -> None:
    write_text(out_dir / "train_log.csv",
               pd.DataFrame(state["history"], columns=list(TRAIN_LOG)).to_csv(index=False))


def _validate(task: _Task, model, valid_step, params: TrainParams, device) -> tuple[float, float]:
    model.eval()
    total, count = 0.0, 0
    with torch.no_grad():
        for batch in data.loader(task.valid_batches, num_workers=0, seed=params.seed,
                                 pin_memory=device.type == "cuda"):
            n = len(batch[0])
            total, count = total + float(valid_step(_to(batch, device))) * n, count + n
    acc = centroid_accuracy(model, task.valid_batches.reader, query_domain=task.query_domain,
                            queries=task.queries, centroids=task.centroids)
    return (total / count if count else float("nan")), acc


def _finish(task: _Task, model, state: dict, params: TrainParams, out_dir: Path, kind: str) -> dict:
    if state["best_state"] is not None:
        model.load_state_dict(state["best_state"])
    model.cpu().eval()
    best = next((r for r in state["history"] if r["epoch"] == state["best_epoch"]), {})
    metrics = {"kind": kind, "pretrained": bool(task.info.get("init")),
               "epochs_run": state["epoch"], "best_epoch": state["best_epoch"],
               "best_valid_loss": best.get("valid_loss"), "best_valid_acc": best.get("valid_acc"),
               "final_train_loss": state["history"][-1]["train_loss"] if state["history"] else None,
               "stopped_early": state["epoch"] < (params.pretrain_epochs if kind == "classifier"
                                                  else params.epochs)}
    save_model(model, out_dir, dict(task.info, train=dataclasses.asdict(params), metrics=metrics))
    write_json(out_dir / "metrics.json", metrics)
    return metrics
