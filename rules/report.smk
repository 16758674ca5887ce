rule report:
    input:
        card=f"{DATASET}/card.json",
        metrics=f"{EVALUATION}/metrics.parquet",
        baseline=f"{EVALUATION}/baseline.parquet",
        snr=f"{EVALUATION}/snr_sweep.parquet",
        embeddings=f"{EVALUATION}/track_embeddings.parquet",
        accounting=ACCOUNTING,
    output:
        html=report(f"{EVALUATION}/report.html", caption="../workflow/report/report.rst", category="Report"),
    params:
        dataset=lambda wc, input: str(Path(input.card).parent),
        evaluate=as_json(config["evaluate"]),
    log:
        f"{R}/logs/{VERSION}/report.log",
    threads: 1
    resources:
        mem_mb=2000,
        runtime=30,
    conda:
        "../environment.yml"
    shell:
        "python -m pipeline report --dataset {params.dataset} --metrics {input.metrics} "
        "--baseline {input.baseline} --snr {input.snr} --embeddings {input.embeddings} "
        "--accounting {input.accounting} --out {output.html} --params {params.evaluate:q} > {log} 2>&1"


rule account:
    input:
        manifests=f"{MANIFESTS}/vocals.parquet",
        split=f"{MANIFESTS}/split.parquet",
        skipped=vocal_skipped,
        acc_skipped=accompaniment_tables("skipped.parquet"),
        index=f"{DATASET}/index.parquet",
        unmatched=f"{DATASET}/unmatched.parquet",
    output:
        ACCOUNTING,
    log:
        f"{R}/logs/{VERSION}/account.log",
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    conda:
        "../environment.yml"
    shell:
        "python -m pipeline account --manifests $(dirname {input.manifests}) "
        "--skipped {input.skipped} {input.acc_skipped} --index {input.index} "
        "--unmatched {input.unmatched} --out {output} > {log} 2>&1"
