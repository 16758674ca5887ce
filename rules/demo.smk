rule demo_corpus:
    output:
        marker=f"{config['sources']['vocals']['root']}/corpus.json",
    log:
        f"{R}/logs/demo_corpus.log",
    conda:
        "../environment.yml"
    threads: 2
    resources:
        mem_mb=2000,
        runtime=30,
    params:
        root=folder(config["sources"]["vocals"]["root"]),
        preset="--small" if config["demo"]["preset"] == "small" else "",
        demo=as_json(config["demo"]["params"]),
        seed=config["seed"],
        recipe=as_json(demo_recipe()),  # a new generator version or default reruns this
    shell:
        "python -m pipeline demo-corpus --out {params.root} {params.preset} "
        "--seed {params.seed} --workers {threads} --params {params.demo:q} > {log} 2>&1"
