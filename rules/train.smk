rule pretrain:
    input:
        card=f"{DATASET}/card.json",
        index=f"{DATASET}/index.parquet",
        shards=dataset_shards(DATASET),
    output:
        model=f"{MODELS}/pretrain-{{domain}}/model.pt",
        info=f"{MODELS}/pretrain-{{domain}}/model.json",
        metrics=f"{MODELS}/pretrain-{{domain}}/metrics.json",
        log_table=f"{MODELS}/pretrain-{{domain}}/train_log.csv",
    log:
        f"{R}/logs/{VERSION}/pretrain-{{domain}}.log",
    benchmark:
        f"{BENCHMARKS}/{VERSION}/pretrain-{{domain}}.tsv"
    # The pre-trained models wait on these two short jobs: start them first.
    priority: 10
    conda:
        "../environment.yml"
    threads: TRAIN_THREADS
    resources:
        mem_mb=4000,
        runtime=600,
        gpu=1,
    params:
        dataset=folder(DATASET),
        out=folder(f"{MODELS}/pretrain-{{domain}}"),
        train=as_json(config["train"]),
        seed=config["seed"],
    shell:
        "python -m pipeline pretrain --dataset {params.dataset} --domain {wildcards.domain} "
        "--out {params.out} --seed {params.seed} --threads {threads} "
        "--params {params.train:q} > {log} 2>&1"


rule train:
    input:
        card=f"{DATASET}/card.json",
        index=f"{DATASET}/index.parquet",
        shards=dataset_shards(DATASET),
        init=classifier_files,
    output:
        model=f"{MODELS}/{{kind}}-{{init}}/model.pt",
        info=f"{MODELS}/{{kind}}-{{init}}/model.json",
        metrics=f"{MODELS}/{{kind}}-{{init}}/metrics.json",
        log_table=f"{MODELS}/{{kind}}-{{init}}/train_log.csv",
    log:
        f"{R}/logs/{VERSION}/train-{{kind}}-{{init}}.log",
    benchmark:
        f"{BENCHMARKS}/{VERSION}/train-{{kind}}-{{init}}.tsv"
    conda:
        "../environment.yml"
    threads: TRAIN_THREADS
    resources:
        mem_mb=4000,
        runtime=1440,
        gpu=1,
    params:
        dataset=folder(DATASET),
        out=folder(f"{MODELS}/{{kind}}-{{init}}"),
        init=init_flag,
        train=as_json(config["train"]),
        seed=config["seed"],
    shell:
        "python -m pipeline train --dataset {params.dataset} --kind {wildcards.kind} "
        "{params.init} --out {params.out} --seed {params.seed} --threads {threads} "
        "--params {params.train:q} > {log} 2>&1"
