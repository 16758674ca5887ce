rule join:
    input:
        windows=vocal_windows,
        segments=accompaniment_tables("segments.parquet"),
        tracks=accompaniment_tables("tracks.parquet"),
        vocals=f"{MANIFESTS}/vocals.parquet",
        accompaniments=f"{MANIFESTS}/accompaniments.parquet",
        split=f"{MANIFESTS}/split.parquet",
    output:
        pairs=f"{DATASET}/pairs.parquet",
        unmatched=f"{DATASET}/unmatched.parquet",
        coverage=f"{DATASET}/coverage.parquet",
    params:
        dataset=lambda wc, output: str(Path(output.pairs).parent),
        mashup=as_json(config["mashup"]),
        seed=config["seed"],
    log:
        f"{R}/logs/{VERSION}/join.log",
    threads: 1
    resources:
        mem_mb=4000,
        runtime=30,
    conda:
        "../environment.yml"
    shell:
        "python -m pipeline join --windows {input.windows} --segments {input.segments} "
        "--tracks {input.tracks} --vocals {input.vocals} --accompaniments {input.accompaniments} "
        "--split {input.split} --out {params.dataset} --seed {params.seed} "
        "--params {params.mashup:q} > {log} 2>&1"


rule mix:
    input:
        unpack(mix_inputs),
    output:
        mono=f"{DATASET}/mono-{{shard}}.npy",
        mix=f"{DATASET}/mix-{{shard}}.npy",
        index=f"{DATASET}/index-{{shard}}.parquet",
    params:
        dataset=lambda wc, output: str(Path(output.mono).parent),
        mashup=as_json(config["mashup"]),
        features=as_json(config["features"]),
        analysis=ANALYSIS,
    log:
        f"{R}/logs/{VERSION}/mix/{{shard}}.log",
    threads: 1
    resources:
        mem_mb=3000,
        runtime=120,
    conda:
        "../environment.yml"
    shell:
        "python -m pipeline mix --pairs {input.pairs} --vocals {input.vocals} "
        "--analysis {params.analysis}/accompaniments --shard {wildcards.shard} --out {params.dataset} "
        "--params {params.mashup:q} --features {params.features:q} > {log} 2>&1"


rule mix_snr:
    input:
        unpack(mix_inputs),
    output:
        mono=f"{DATASET}/snr/{{snr}}/mono-{{shard}}.npy",
        mix=f"{DATASET}/snr/{{snr}}/mix-{{shard}}.npy",
        index=f"{DATASET}/snr/{{snr}}/index-{{shard}}.parquet",
    params:
        mashup=as_json(config["mashup"]),
        features=as_json(config["features"]),
        analysis=ANALYSIS,
        out=lambda wc: f"{DATASET}/snr/{wc.snr}",
    log:
        f"{R}/logs/{VERSION}/mix_snr/{{snr}}/{{shard}}.log",
    threads: 1
    resources:
        mem_mb=3000,
        runtime=60,
    conda:
        "../environment.yml"
    shell:
        "python -m pipeline mix --pairs {input.pairs} --vocals {input.vocals} "
        "--analysis {params.analysis}/accompaniments --shard {wildcards.shard} --out {params.out} "
        "--params {params.mashup:q} --features {params.features:q} "
        "--subsets test_model test_query --snr-db {wildcards.snr} > {log} 2>&1"


rule card:
    input:
        dataset_shard_indices(DATASET),
    output:
        card=f"{DATASET}/card.json",
        index=f"{DATASET}/index.parquet",
    params:
        dataset=lambda wc, output: str(Path(output.card).parent),
        config=lambda wc: as_json({k: config[k] for k in DATA_SECTIONS if k in config}),
    log:
        f"{R}/logs/{VERSION}/card.log",
    threads: 1
    resources:
        mem_mb=4000,
        runtime=30,
    conda:
        "../environment.yml"
    shell:
        "python -m pipeline card {params.dataset} --params {params.config:q} > {log} 2>&1"


rule card_snr:
    input:
        lambda wc: dataset_shard_indices(f"{DATASET}/snr/{wc.snr}")(wc),
    output:
        card=f"{DATASET}/snr/{{snr}}/card.json",
        index=f"{DATASET}/snr/{{snr}}/index.parquet",
    params:
        config=lambda wc: as_json({k: config[k] for k in DATA_SECTIONS if k in config}),
        out=lambda wc: f"{DATASET}/snr/{wc.snr}",
    log:
        f"{R}/logs/{VERSION}/card_snr/{{snr}}.log",
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    conda:
        "../environment.yml"
    shell:
        "python -m pipeline card {params.out} --params {params.config:q} > {log} 2>&1"
