rule evaluate:
    input:
        card=f"{DATASET}/card.json",
        models=ALL_MODELS,
    output:
        metrics=f"{EVALUATION}/metrics.parquet",
        embeddings=f"{EVALUATION}/track_embeddings.parquet",
    params:
        dataset=lambda wc, input: str(Path(input.card).parent),
        evaluation=lambda wc, output: str(Path(output.metrics).parent),
        evaluate=as_json(config["evaluate"]),
        seed=config["seed"],
    log:
        f"{R}/logs/{VERSION}/evaluate.log",
    threads: 1
    resources:
        mem_mb=4000,
        runtime=120,
    conda:
        "../environment.yml"
    shell:
        "python -m pipeline evaluate --dataset {params.dataset} --models {input.models} "
        "--out {params.evaluation} --seed {params.seed} --params {params.evaluate:q} > {log} 2>&1"


rule baseline:
    input:
        card=f"{DATASET}/card.json",
    output:
        metrics=f"{EVALUATION}/baseline.parquet",
    params:
        dataset=lambda wc, input: str(Path(input.card).parent),
        evaluate=as_json(config["evaluate"]),
        seed=config["seed"],
    log:
        f"{R}/logs/{VERSION}/baseline.log",
    threads: 1
    resources:
        mem_mb=8000,
        runtime=240,
    conda:
        "../environment.yml"
    shell:
        "python -m pipeline baseline --dataset {params.dataset} --out {output.metrics} "
        "--seed {params.seed} --params {params.evaluate:q} > {log} 2>&1"


rule snr_sweep:
    input:
        cards=expand(f"{DATASET}/snr/{{snr}}/card.json", snr=SNRS),
        models=[model_path(k, "pretrained") for k in ("mixed", "cross")],
    output:
        metrics=f"{EVALUATION}/snr_sweep.parquet",
    params:
        evaluate=as_json(config["evaluate"]),
        datasets=lambda wc, input: " ".join(f"{s}={Path(c).parent}" for s, c in zip(SNRS, input.cards)),
        seed=config["seed"],
    log:
        f"{R}/logs/{VERSION}/snr_sweep.log",
    threads: 1
    resources:
        mem_mb=4000,
        runtime=60,
    conda:
        "../environment.yml"
    shell:
        "python -m pipeline evaluate --snr-datasets {params.datasets} --models {input.models} "
        "--out {output.metrics} --seed {params.seed} --params {params.evaluate:q} > {log} 2>&1"
