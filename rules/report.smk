rule report:
    input:
        card=f"{DATASET}/card.json",
        index=f"{DATASET}/index.parquet",
        metrics=f"{EVALUATION}/metrics.parquet",
        baseline=f"{EVALUATION}/baseline.parquet",
        snr=f"{EVALUATION}/snr_sweep.parquet",
        embeddings=f"{EVALUATION}/track_embeddings.parquet",
        accounting=ACCOUNTING,
        songs=songs_outputs(),
    output:
        html=report(
            f"{EVALUATION}/report.html",
            caption="../workflow/report/report.rst",
            category="Report",
        ),
        identification=report(
            f"{FIGURES}/{FIGURE_STEMS['identification']}.png",
            caption="../workflow/report/identification.rst",
            category="Figures",
            labels={"figure": "3 singer identification"},
        ),
        retrieval=report(
            f"{FIGURES}/{FIGURE_STEMS['retrieval']}.png",
            caption="../workflow/report/retrieval.rst",
            category="Figures",
            labels={"figure": "4 query-by-singer"},
        ),
        pretraining=report(
            f"{FIGURES}/{FIGURE_STEMS['pretraining']}.png",
            caption="../workflow/report/pretraining.rst",
            category="Figures",
            labels={"figure": "5 pre-training"},
        ),
        snr=report(
            f"{FIGURES}/{FIGURE_STEMS['snr']}.png",
            caption="../workflow/report/snr.rst",
            category="Figures",
            labels={"figure": "6 SNR sweep"},
        ),
        tsne=report(
            f"{FIGURES}/{FIGURE_STEMS['tsne']}.png",
            caption="../workflow/report/tsne.rst",
            category="Figures",
            labels={"figure": "7 t-SNE"},
        ),
        svg=figures("svg"),
    log:
        f"{R}/logs/{VERSION}/report.log",
    conda:
        "../environment.yml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=30,
    params:
        dataset=folder(DATASET),
        figures=folder(FIGURES),
        evaluate=as_json(config["evaluate"]),
    shell:
        "python -m pipeline report --dataset {params.dataset} --metrics {input.metrics} "
        "--baseline {input.baseline} --snr {input.snr} --embeddings {input.embeddings} "
        "--accounting {input.accounting} --songs {input.songs} --out {output.html} "
        "--figures {params.figures} --params {params.evaluate:q} > {log} 2>&1"


rule account:
    input:
        vocals=f"{MANIFESTS}/vocals.parquet",
        accompaniments=f"{MANIFESTS}/accompaniments.parquet",
        split=f"{DATASET}/split.parquet",
        ingest_skipped=f"{MANIFESTS}/skipped.parquet",
        vocal_skipped=vocal_tables("skipped.parquet"),
        acc_skipped=accompaniment_tables("skipped.parquet"),
        index=f"{DATASET}/index.parquet",
        unmatched=f"{DATASET}/unmatched.parquet",
        mix_skipped=dataset_skipped(DATASET),
    output:
        table=ACCOUNTING,
        csv=report(
            ACCOUNTING_CSV,
            caption="../workflow/report/accounting.rst",
            category="Tables",
            labels={"table": "accounting"},
        ),
    log:
        f"{R}/logs/{VERSION}/account.log",
    conda:
        "../environment.yml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    shell:
        "python -m pipeline account --vocals {input.vocals} "
        "--accompaniments {input.accompaniments} --split {input.split} "
        "--skipped {input.ingest_skipped} {input.vocal_skipped} {input.acc_skipped} "
        "--index {input.index} --unmatched {input.unmatched} "
        "--mix-skipped {input.mix_skipped} --out {output.table} "
        "> {log} 2>&1"
