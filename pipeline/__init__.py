"""DAMP-Mash: a dataset-generation pipeline and joint embedding models for singing voice.

Implements K. Lee and J. Nam, "Learning a joint embedding space of monophonic and mixed
music signals for singing voice", ISMIR 2019, as an offline Snakemake DAG.
"""

__version__ = "0.1.0"
