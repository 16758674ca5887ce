"""Print what a config's training costs: items per epoch, batches, epochs and CPU-hours.

Reads the config files as the Snakefile merges them (left to right, later files win, nested
sections key by key; defaults filled in, corpus paths not checked), the vocal manifest and
either a split table or the split the config makes of the manifest, then prints one row per
kind of training job the DAG plans (``pipeline.train.plan``).

    python -m pipeline plan-training --config config/config.yaml config/damp-musdb.yaml \\
        --manifest results-damp/manifests/vocals.parquet

The estimate is CPU time at a measured throughput (default: the README's 1,009 segments/s,
forward + backward, MONO, 1 thread, ``bench/bench_train.py``); pass ``--segments-per-s`` with
your own measurement. No GPU figure is printed: none has been measured here.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import yaml

from ..core.config import merge, params_from, validate_config
from ..core.errors import ConfigError
from ..sources.split import SplitParams, split_singers
from ..train.params import TrainParams
from ..train.plan import AUTHORS_STOP_EPOCH, MEASURED_SEGMENTS_PER_S, format_plan, plan_training


def add_arguments(parser):
    parser.add_argument("--config", nargs="+", required=True, metavar="YAML",
                        help="config files, merged left to right (as --configfile)")
    parser.add_argument("--manifest", help="manifests/vocals.parquet (to split it here)")
    parser.add_argument("--split", help="a split table (id, singer, subset) instead of "
                                        "splitting --manifest")
    parser.add_argument("--windows-per-performance", type=int, default=None,
                        help="vocal windows per performance (default: svd.max_windows, the "
                             "most a performance yields)")
    parser.add_argument("--segments-per-s", type=float, default=MEASURED_SEGMENTS_PER_S,
                        help="training throughput, forward + backward [segments/s] "
                             f"(default {MEASURED_SEGMENTS_PER_S:,.0f}: README, MONO, 1 thread)")
    parser.add_argument("--metric-epochs", type=int, default=AUTHORS_STOP_EPOCH,
                        help="metric-learning epochs assumed before early stopping ends a run "
                             f"(default {AUTHORS_STOP_EPOCH}: the authors' released runs); "
                             "the table also gives the cost at train.epochs")


def merged_config(paths) -> dict:
    """The validated merge of ``paths`` (later files win), defaults filled in."""
    config: dict = {}
    for path in paths:
        path = Path(path)
        if not path.exists():
            raise ConfigError(f"config file not found: {path}")
        config = merge(config, yaml.safe_load(path.read_text()) or {})
    return validate_config(config)


def run(args) -> int:
    config = merged_config(args.config)
    if args.split:
        split = pd.read_parquet(args.split)
    elif args.manifest:
        split = split_singers(pd.read_parquet(args.manifest),
                              params_from(SplitParams, config["split"], "split"), config["seed"])
    else:
        raise ConfigError("plan-training: give --manifest or --split")
    train = split[split["subset"] == "train"]
    windows = args.windows_per_performance or config["svd"]["max_windows"]
    mixes = config["mashup"]["mixes_per_window"]
    params = params_from(TrainParams, config["train"], "train")
    plan = plan_training(len(train), windows, params, mixes_per_window=mixes,
                         segments_per_s=args.segments_per_s, metric_epochs=args.metric_epochs)
    per_epoch = ("a full pass (train.items_per_epoch: null)" if params.items_per_epoch is None
                 else f"{params.items_per_epoch:,} items (train.items_per_epoch)")
    print(f"{train['singer'].nunique():,} training singers, {len(train):,} training "
          f"performances x {windows} windows (at most) = {plan.segments['mono']:,} mono and "
          f"{plan.segments['mix']:,} mix training segments")
    print(f"epoch: {per_epoch}, batches of {params.batch_size}; classifiers "
          f"{params.pretrain_epochs} epochs, embedding models {plan.runs[-1].epochs} epochs "
          f"assumed (early stopping), at most {params.epochs}")
    print(f"CPU-hours: forward + backward at {args.segments_per_s:,.0f} segments/s "
          "(validation and evaluation excluded); no GPU estimate (none measured)")
    print(format_plan(plan))
    return 0
