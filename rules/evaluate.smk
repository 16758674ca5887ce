rule evaluate:
    input:
        card=f"{DATASET}/card.json",
        index=f"{DATASET}/index.parquet",
        shards=dataset_shards(DATASET),
        models=ALL_MODELS,
        infos=ALL_MODEL_INFOS,
    output:
        metrics=f"{EVALUATION}/metrics.parquet",
        table=report(
            f"{EVALUATION}/metrics.csv",
            caption="../workflow/report/metrics.rst",
            category="Tables",
            labels={"table": "metrics"},
        ),
        summary=f"{EVALUATION}/summary.json",
        embeddings=f"{EVALUATION}/track_embeddings.parquet",
    log:
        f"{R}/logs/{VERSION}/evaluate.log",
    benchmark:
        f"{BENCHMARKS}/{VERSION}/evaluate.tsv"
    conda:
        "../environment.yml"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=120,
    params:
        dataset=folder(DATASET),
        evaluation=folder(EVALUATION),
        evaluate=as_json(config["evaluate"]),
        seed=config["seed"],
    shell:
        "python -m pipeline evaluate --dataset {params.dataset} --models {input.models} "
        "--out {params.evaluation} --seed {params.seed} --params {params.evaluate:q} "
        "> {log} 2>&1"


rule baseline:
    input:
        card=f"{DATASET}/card.json",
        index=f"{DATASET}/index.parquet",
        shards=dataset_shards(DATASET),
    output:
        metrics=f"{EVALUATION}/baseline.parquet",
        table=report(
            f"{EVALUATION}/baseline.csv",
            caption="../workflow/report/baseline.rst",
            category="Tables",
            labels={"table": "GMM-UBM baseline"},
        ),
    log:
        f"{R}/logs/{VERSION}/baseline.log",
    benchmark:
        f"{BENCHMARKS}/{VERSION}/baseline.tsv"
    conda:
        "../environment.yml"
    threads: 1
    resources:
        mem_mb=8000,
        runtime=240,
    params:
        dataset=folder(DATASET),
        evaluate=as_json(config["evaluate"]),
        seed=config["seed"],
    shell:
        "python -m pipeline baseline --dataset {params.dataset} --out {output.metrics} "
        "--seed {params.seed} --params {params.evaluate:q} > {log} 2>&1"


rule snr_sweep:
    input:
        cards=expand(f"{SNR_DATASET}/card.json", snr=SNRS),
        indices=expand(f"{SNR_DATASET}/index.parquet", snr=SNRS),
        shards=sweep_shards,
        models=[model_files(k, "pretrained")[0] for k in ("mixed", "cross")],
        infos=[model_files(k, "pretrained")[1] for k in ("mixed", "cross")],
    output:
        metrics=f"{EVALUATION}/snr_sweep.parquet",
        table=report(
            f"{EVALUATION}/snr_sweep.csv",
            caption="../workflow/report/snr_table.rst",
            category="Tables",
            labels={"table": "SNR sweep"},
        ),
    log:
        f"{R}/logs/{VERSION}/snr_sweep.log",
    benchmark:
        f"{BENCHMARKS}/{VERSION}/snr_sweep.tsv"
    conda:
        "../environment.yml"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=60,
    params:
        datasets=snr_datasets(),
        evaluate=as_json(config["evaluate"]),
        seed=config["seed"],
    shell:
        "python -m pipeline evaluate --snr-datasets {params.datasets} --models {input.models} "
        "--out {output.metrics} --seed {params.seed} --params {params.evaluate:q} > {log} 2>&1"


rule demo_songs:
    input:
        vocals=f"{MANIFESTS}/vocals.parquet",
        accompaniments=f"{MANIFESTS}/accompaniments.parquet",
        split=f"{DATASET}/split.parquet",
    output:
        songs=directory(DEMO_SONGS),
    log:
        f"{R}/logs/{VERSION}/demo_songs.log",
    conda:
        "../environment.yml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=30,
    params:
        seed=config["seed"],
    shell:
        "python -m pipeline demo-songs --vocals {input.vocals} "
        "--accompaniments {input.accompaniments} --split {input.split} "
        "--out {output.songs} --seed {params.seed} > {log} 2>&1"


rule evaluate_songs:
    input:
        songs=songs_source(),
        models=ALL_MODELS,
        infos=ALL_MODEL_INFOS,
    output:
        metrics=f"{SONGS_EVALUATION}/metrics.parquet",
        table=report(
            f"{SONGS_EVALUATION}/metrics.csv",
            caption="../workflow/report/songs.rst",
            category="Songs of known singers",
            labels={"table": "singer identification on songs"},
        ),
        predictions=f"{SONGS_EVALUATION}/predictions.parquet",
        predictions_csv=f"{SONGS_EVALUATION}/predictions.csv",
        songs=f"{SONGS_EVALUATION}/songs.parquet",
        songs_csv=f"{SONGS_EVALUATION}/songs.csv",
        skipped=f"{SONGS_EVALUATION}/skipped.parquet",
        skipped_csv=f"{SONGS_EVALUATION}/skipped.csv",
    log:
        f"{R}/logs/{VERSION}/evaluate_songs.log",
    benchmark:
        f"{BENCHMARKS}/{VERSION}/evaluate_songs.tsv"
    conda:
        "../environment.yml"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=120,
    params:
        evaluation=folder(SONGS_EVALUATION),
        songs=as_json(config["songs"]),
        evaluate=as_json(config["evaluate"]),
        seed=config["seed"],
    shell:
        "python -m pipeline evaluate-songs --songs {input.songs:q} --models {input.models} "
        "--out {params.evaluation} --seed {params.seed} --params {params.songs:q} "
        "--evaluate-params {params.evaluate:q} > {log} 2>&1"
