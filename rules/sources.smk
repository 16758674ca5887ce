checkpoint ingest:
    input:
        demo_marker("vocals"),
        demo_marker("accompaniments"),
    output:
        vocals=f"{MANIFESTS}/vocals.parquet",
        accompaniments=f"{MANIFESTS}/accompaniments.parquet",
        skipped=f"{MANIFESTS}/skipped.parquet",
    log:
        f"{R}/logs/ingest.log",
    benchmark:
        f"{BENCHMARKS}/ingest.tsv"
    conda:
        "../environment.yml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=120,
    params:
        out=folder(MANIFESTS),
        vocals=as_json(config["sources"]["vocals"]),
        accompaniments=as_json(config["sources"]["accompaniments"]),
        shards=as_json(config["shards"]),
    shell:
        "python -m pipeline ingest --vocals {params.vocals:q} "
        "--accompaniments {params.accompaniments:q} --shards {params.shards:q} "
        "--out {params.out} > {log} 2>&1"
