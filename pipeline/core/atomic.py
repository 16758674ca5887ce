"""Atomic writes: every output is written under a temporary name, then renamed.

A killed job therefore never leaves a half-written file under its final name, and Snakemake
(or a rerun of the CLI) never takes a partial file as done.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from pathlib import Path

import numpy as np

__all__ = ["atomic_path", "write_bytes", "write_json", "write_npy", "write_parquet",
           "write_text"]


@contextlib.contextmanager
def atomic_path(path):
    """Yield a temporary path beside ``path``; rename it onto ``path`` on success.

    The temporary file is removed if the body raises (disk full, permission denied, kill
    by exception), so no corrupt file is left behind.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; give the usual file mode
        os.replace(tmp, path)
    except OSError as exc:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        # Name the final path (the temp name means nothing to a user).
        raise OSError(exc.errno, exc.strerror or str(exc), str(path)) from exc
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_bytes(path, data: bytes) -> None:
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())


def write_text(path, text: str) -> None:
    write_bytes(path, text.encode("utf-8"))


def write_json(path, obj) -> None:
    write_text(path, json.dumps(obj, indent=2, sort_keys=True, default=_json_default) + "\n")


def _json_default(o):
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


def write_parquet(path, df) -> None:
    """Write a pandas DataFrame to Parquet atomically, without the pandas index.

    Written deterministically (no creation timestamps), so equal frames give equal bytes.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.Table.from_pandas(df, preserve_index=False)
    with atomic_path(path) as tmp:
        pq.write_table(table, tmp, compression="zstd")


def write_npy(path, array: np.ndarray, chunk_bytes: int = 1 << 24) -> None:
    """Write ``array`` in .npy format (the bytes ``np.save`` writes), atomically.

    The data go through Python's file writes rather than ``ndarray.tofile`` (what ``np.save``
    uses), so a full disk raises ``OSError(ENOSPC)`` instead of a bare short-write error.
    """
    array = np.ascontiguousarray(array)
    flat = array.reshape(-1).view(np.uint8) if array.size else array.reshape(-1)
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:
            np.lib.format.write_array_header_1_0(f, np.lib.format.header_data_from_array_1_0(array))
            for start in range(0, flat.nbytes, chunk_bytes):
                f.write(flat[start:start + chunk_bytes].tobytes())
            f.flush()
            os.fsync(f.fileno())
