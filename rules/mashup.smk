rule join:
    input:
        windows=vocal_tables("windows.parquet"),
        segments=accompaniment_tables("segments.parquet"),
        tracks=accompaniment_tables("tracks.parquet"),
        vocals=f"{MANIFESTS}/vocals.parquet",
        accompaniments=f"{MANIFESTS}/accompaniments.parquet",
    output:
        pairs=f"{DATASET}/pairs.parquet",
        unmatched=f"{DATASET}/unmatched.parquet",
        coverage=f"{DATASET}/coverage.parquet",
        usage=f"{DATASET}/usage.parquet",
        split=f"{DATASET}/split.parquet",
        split_summary=f"{DATASET}/split.json",
    log:
        f"{R}/logs/{VERSION}/join.log",
    benchmark:
        f"{BENCHMARKS}/{VERSION}/join.tsv"
    conda:
        "../environment.yml"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=30,
    params:
        dataset=folder(DATASET),
        mashup=as_json(config["mashup"]),
        split=as_json(config["split"]),
        seed=config["seed"],
        vocals_root=config["sources"]["vocals"]["root"],
        accompaniments_root=config["sources"]["accompaniments"]["root"],
    shell:
        "python -m pipeline join --windows {input.windows} --segments {input.segments} "
        "--tracks {input.tracks} --vocals {input.vocals} --accompaniments {input.accompaniments} "
        "--split-params {params.split:q} --vocals-root {params.vocals_root:q} "
        "--accompaniments-root {params.accompaniments_root:q} --out {params.dataset} "
        "--seed {params.seed} --params {params.mashup:q} > {log} 2>&1"


# The mix job reads the analysis tables of the current shard count only (--tracks, --audio).
rule mix:
    input:
        pairs=f"{DATASET}/pairs.parquet",
        vocals=f"{MANIFESTS}/vocals.parquet",
        tracks=accompaniment_tables("tracks.parquet"),
        audio=accompaniment_tables("audio.npy"),
    output:
        mono=f"{DATASET}/mono-{{shard}}.npy",
        mix=f"{DATASET}/mix-{{shard}}.npy",
        index=f"{DATASET}/index-{{shard}}.parquet",
        skipped=f"{DATASET}/skipped-{{shard}}.parquet",
    log:
        f"{R}/logs/{VERSION}/mix/{{shard}}.log",
    benchmark:
        f"{BENCHMARKS}/{VERSION}/mix/{{shard}}.tsv"
    # Training waits on the dataset, the SNR sweep only on the trained models: mix this first.
    priority: 10
    conda:
        "../environment.yml"
    threads: 1
    resources:
        mem_mb=3000,
        runtime=120,
    params:
        dataset=folder(DATASET),
        only="",
        mashup=as_json(config["mashup"]),
        features=as_json(config["features"]),
    shell:
        "python -m pipeline mix --pairs {input.pairs} --vocals {input.vocals} "
        "--tracks {input.tracks} --audio {input.audio} --shard {wildcards.shard} "
        "--out {params.dataset} {params.only} --params {params.mashup:q} "
        "--features {params.features:q} > {log} 2>&1"


# The SNR sweep: the test singers' pairs mixed again at every ratio, one job per shard (each
# window is decoded and its vocal log-mel computed once for all ratios).
use rule mix as mix_snr with:
    output:
        mono=expand(f"{SNR_DATASET}/mono-{{shard}}.npy", snr=SNRS, allow_missing=True),
        mix=expand(f"{SNR_DATASET}/mix-{{shard}}.npy", snr=SNRS, allow_missing=True),
        index=expand(
            f"{SNR_DATASET}/index-{{shard}}.parquet", snr=SNRS, allow_missing=True
        ),
        skipped=expand(
            f"{SNR_DATASET}/skipped-{{shard}}.parquet", snr=SNRS, allow_missing=True
        ),
    log:
        f"{R}/logs/{VERSION}/mix_snr/{{shard}}.log",
    benchmark:
        f"{BENCHMARKS}/{VERSION}/mix_snr/{{shard}}.tsv"
    # not mix's 10: the sweep waits on the trained models anyway
    priority: 0
    resources:
        mem_mb=3000,
        runtime=60,
    params:
        dataset=lambda wildcards: " ".join(SNR_DATASET.format(snr=snr) for snr in SNRS),
        only=f"--subsets {' '.join(TEST_SUBSETS)} --snr-db {' '.join(map(str, SNRS))}",
        mashup=as_json(config["mashup"]),
        features=as_json(config["features"]),


rule card:
    input:
        shards=dataset_shards(DATASET),
        coverage=f"{DATASET}/coverage.parquet",
        split_summary=f"{DATASET}/split.json",
    output:
        card=f"{DATASET}/card.json",
        index=f"{DATASET}/index.parquet",
    log:
        f"{R}/logs/{VERSION}/card.log",
    benchmark:
        f"{BENCHMARKS}/{VERSION}/card.tsv"
    priority: 10
    conda:
        "../environment.yml"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=30,
    params:
        dataset=folder(DATASET),
        config=as_json({k: config[k] for k in DATA_SECTIONS if k in config}),
    shell:
        "python -m pipeline card {params.dataset} --shards {input.shards} "
        "--params {params.config:q} > {log} 2>&1"


use rule card as card_snr with:
    input:
        shards=dataset_shards(SNR_DATASET),
    output:
        card=f"{SNR_DATASET}/card.json",
        index=f"{SNR_DATASET}/index.parquet",
    log:
        f"{R}/logs/{VERSION}/card_snr/{{snr}}.log",
    benchmark:
        f"{BENCHMARKS}/{VERSION}/card_snr/{{snr}}.tsv"
    priority: 0
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        dataset=folder(SNR_DATASET),
        config=as_json({k: config[k] for k in DATA_SECTIONS if k in config}),
