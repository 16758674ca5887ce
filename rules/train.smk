rule pretrain:
    input:
        card=f"{DATASET}/card.json",
        index=f"{DATASET}/index.parquet",
    output:
        model=f"{MODELS}/pretrain-{{domain}}/model.pt",
        log_table=f"{MODELS}/pretrain-{{domain}}/train_log.csv",
    params:
        dataset=lambda wc, input: str(Path(input.card).parent),
        train=as_json(config["train"]),
        seed=config["seed"],
        out=lambda wc: f"{MODELS}/pretrain-{wc.domain}",
    log:
        f"{R}/logs/{VERSION}/pretrain-{{domain}}.log",
    threads: 1
    resources:
        mem_mb=4000,
        runtime=600,
        gpu=1,
    conda:
        "../environment.yml"
    shell:
        "python -m pipeline pretrain --dataset {params.dataset} --domain {wildcards.domain} "
        "--out {params.out} --seed {params.seed} --params {params.train:q} > {log} 2>&1"


rule train:
    input:
        card=f"{DATASET}/card.json",
        index=f"{DATASET}/index.parquet",
        init=pretrained_inputs,
    output:
        model=f"{MODELS}/{{kind}}-{{init}}/model.pt",
        log_table=f"{MODELS}/{{kind}}-{{init}}/train_log.csv",
    params:
        dataset=lambda wc, input: str(Path(input.card).parent),
        train=as_json(config["train"]),
        seed=config["seed"],
        out=lambda wc: f"{MODELS}/{wc.kind}-{wc.init}",
        init=lambda wc, input: " ".join(
            f"--init-{Path(p).parent.name.split('-')[1]} {Path(p).parent}" for p in input.init
        ),
    log:
        f"{R}/logs/{VERSION}/train-{{kind}}-{{init}}.log",
    threads: 1
    resources:
        mem_mb=4000,
        runtime=1440,
        gpu=1,
    conda:
        "../environment.yml"
    shell:
        "python -m pipeline train --dataset {params.dataset} --kind {wildcards.kind} {params.init} "
        "--out {params.out} --seed {params.seed} --params {params.train:q} > {log} 2>&1"
