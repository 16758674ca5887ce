"""The dataset-version format, its one owner: log-mel features (``features``), the NPY shard +
Parquet index writer (``shards``), the public reader (``reader``), the dataset card (``card``)
and verification (``verify``).

A lab that received shards opens them with :class:`DatasetVersion`::

    from pipeline.dataset import DatasetVersion

    ds = DatasetVersion("datasets/05b560230e")
    for row, mel in ds.segments("mix", subset="test_query"):
        ...                                   # row: the index row; mel: (129, 128) float32
    loader = torch.utils.data.DataLoader(ds.torch_dataset("mono", subset="train"), batch_size=32)
"""

from .reader import DatasetVersion, ShardReader, read_card, read_index

__all__ = ["DatasetVersion", "ShardReader", "read_card", "read_index"]
