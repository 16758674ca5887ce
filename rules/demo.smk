rule demo_corpus:
    output:
        f"{config['sources']['vocals']['root']}/corpus.json",
    params:
        preset="--small" if config["demo"]["preset"] == "small" else "",
        demo=as_json(config["demo"]["params"]),
        seed=config["seed"],
    log:
        f"{R}/logs/demo_corpus.log",
    threads: 2
    resources:
        mem_mb=2000,
        runtime=30,
    conda:
        "../environment.yml"
    shell:
        "python -m pipeline demo-corpus --out $(dirname {output}) {params.preset} "
        "--seed {params.seed} --params {params.demo:q} > {log} 2>&1"
