rule analyze_vocals:
    input:
        manifest=f"{MANIFESTS}/vocals.parquet",
    output:
        windows=f"{ANALYSIS}/vocals/{{shard}}.windows.parquet",
        skipped=f"{ANALYSIS}/vocals/{{shard}}.skipped.parquet",
    log:
        f"{R}/logs/analyze_vocals/{{shard}}.log",
    benchmark:
        f"{BENCHMARKS}/analyze_vocals/{{shard}}.tsv"
    conda:
        "../environment.yml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=60,
    params:
        folder=folder(f"{ANALYSIS}/vocals"),
        analysis=as_json({k: config[k] for k in ("svd", "key", "tempo")}),
    shell:
        "python -m pipeline analyze-vocals --manifest {input.manifest} "
        "--shard {wildcards.shard} --out-prefix {params.folder}/{wildcards.shard} "
        "--params {params.analysis:q} > {log} 2>&1"


rule analyze_accompaniments:
    input:
        manifest=f"{MANIFESTS}/accompaniments.parquet",
    output:
        segments=f"{ANALYSIS}/accompaniments/{{shard}}.segments.parquet",
        tracks=f"{ANALYSIS}/accompaniments/{{shard}}.tracks.parquet",
        audio=f"{ANALYSIS}/accompaniments/{{shard}}.audio.npy",
        skipped=f"{ANALYSIS}/accompaniments/{{shard}}.skipped.parquet",
    log:
        f"{R}/logs/analyze_accompaniments/{{shard}}.log",
    benchmark:
        f"{BENCHMARKS}/analyze_accompaniments/{{shard}}.tsv"
    conda:
        "../environment.yml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=60,
    params:
        folder=folder(f"{ANALYSIS}/accompaniments"),
        analysis=as_json({k: config[k] for k in ("key", "tempo")}),
    shell:
        "python -m pipeline analyze-accompaniments --manifest {input.manifest} "
        "--shard {wildcards.shard} --out-prefix {params.folder}/{wildcards.shard} "
        "--params {params.analysis:q} > {log} 2>&1"
