"""The training stage (``rules/train.smk``): the network (``model``), triplet and segment
sampling from shards (``sampling``) and the training loop (``loop``).
"""
