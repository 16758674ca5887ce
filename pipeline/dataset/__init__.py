"""The dataset-version format, its one owner: log-mel features, the NPY shard + Parquet index
writer and reader, the dataset card and verification.
"""
