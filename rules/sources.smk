checkpoint ingest:
    input:
        demo_marker("vocals"),
        demo_marker("accompaniments"),
    output:
        vocals=f"{MANIFESTS}/vocals.parquet",
        accompaniments=f"{MANIFESTS}/accompaniments.parquet",
        skipped=f"{MANIFESTS}/skipped.parquet",
    params:
        vocals=as_json(config["sources"]["vocals"]),
        accompaniments=as_json(config["sources"]["accompaniments"]),
        shards=as_json(config["shards"]),
    log:
        f"{R}/logs/ingest.log",
    threads: 1
    resources:
        mem_mb=2000,
        runtime=120,
    conda:
        "../environment.yml"
    shell:
        "python -m pipeline ingest --vocals {params.vocals:q} "
        "--accompaniments {params.accompaniments:q} --shards {params.shards:q} "
        "--out $(dirname {output.vocals}) > {log} 2>&1"


rule split:
    input:
        f"{MANIFESTS}/vocals.parquet",
    output:
        f"{MANIFESTS}/split.parquet",
    params:
        split=as_json(config["split"]),
        seed=config["seed"],
    log:
        f"{R}/logs/split.log",
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    conda:
        "../environment.yml"
    shell:
        "python -m pipeline split --manifest {input} --out {output} --seed {params.seed} "
        "--params {params.split:q} > {log} 2>&1"
