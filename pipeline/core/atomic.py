"""Atomic writes: every output is written under a temporary name, then renamed.

A killed job therefore never leaves a half-written file under its final name, and Snakemake
(or a rerun of the CLI) never takes a partial file as done.

Fault injection, for the reliability tests: with ``PIPELINE_FAULT_KILL_AFTER_BYTES=N`` in the
environment, the writers below (``write_bytes`` and those built on it, ``write_npy``,
``write_parquet``) SIGKILL their own process once N bytes of a temporary whose final name
matches ``PIPELINE_FAULT_KILL_NAME`` (an fnmatch pattern, default ``*``) are on disk.
"""

from __future__ import annotations

import contextlib
import fnmatch
import io
import json
import os
import signal
import tempfile
from pathlib import Path

import numpy as np

__all__ = ["KILL_AFTER_BYTES", "KILL_NAME", "atomic_path", "remove_temporaries", "write_bytes",
           "write_json", "write_npy", "write_parquet", "write_text"]


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


def remove_temporaries(directory) -> list[Path]:
    """Delete the temporaries that killed writers left in ``directory`` (``atomic_path``'s
    ``.<name>.<random>.tmp``, not recursing); return their paths.

    A SIGKILL cannot run ``atomic_path``'s clean-up, and a rerun writes under a new random
    name, so a job that resumes in its own folder calls this first.
    """
    directory = Path(directory)
    if not directory.is_dir():
        return []
    stale = sorted(p for p in directory.iterdir()
                   if p.is_file() and p.name.startswith(".") and p.name.endswith(".tmp"))
    for p in stale:
        with contextlib.suppress(FileNotFoundError):
            p.unlink()
    return stale


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


KILL_AFTER_BYTES = "PIPELINE_FAULT_KILL_AFTER_BYTES"
KILL_NAME = "PIPELINE_FAULT_KILL_NAME"


class _KillAfter(io.FileIO):
    """A raw file that SIGKILLs its process once ``limit`` bytes are written (fault injection)."""

    def __init__(self, path, limit: int):
        super().__init__(path, "wb")
        self.limit, self.written = limit, 0

    def write(self, b) -> int:
        b = memoryview(b).cast("B")
        if self.written + len(b) < self.limit:
            n = super().write(b)
            self.written += n
            return n
        while self.written < self.limit:  # exactly ``limit`` bytes, then die mid-file
            self.written += super().write(b[: self.limit - self.written])
        os.kill(os.getpid(), signal.SIGKILL)
        raise AssertionError("unreachable: SIGKILL sent to self")


def _open_tmp(tmp, final: Path):
    """Open the temporary ``tmp`` of ``final`` for binary writing (a plain file unless the
    fault-injection variables name ``final``)."""
    limit = os.environ.get(KILL_AFTER_BYTES)
    if limit is None or not fnmatch.fnmatch(final.name, os.environ.get(KILL_NAME, "*")):
        return open(tmp, "wb")
    return io.BufferedWriter(_KillAfter(tmp, int(limit)))


def write_bytes(path, data: bytes) -> None:
    with atomic_path(path) as tmp:
        with _open_tmp(tmp, Path(path)) as f:
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
        with _open_tmp(tmp, Path(path)) as f:  # the same bytes as writing to the path
            pq.write_table(table, f, compression="zstd")


def write_npy(path, array: np.ndarray, chunk_bytes: int = 1 << 24) -> None:
    """Write ``array`` in .npy format (the bytes ``np.save`` writes), atomically.

    The data go through Python's file writes rather than ``ndarray.tofile`` (what ``np.save``
    uses), so a full disk raises ``OSError(ENOSPC)`` instead of a bare short-write error.
    """
    array = np.ascontiguousarray(array)
    flat = array.reshape(-1).view(np.uint8) if array.size else array.reshape(-1)
    with atomic_path(path) as tmp:
        with _open_tmp(tmp, Path(path)) as f:
            np.lib.format.write_array_header_1_0(f, np.lib.format.header_data_from_array_1_0(array))
            for start in range(0, flat.nbytes, chunk_bytes):
                f.write(flat[start:start + chunk_bytes].tobytes())
            f.flush()
            os.fsync(f.fileno())
