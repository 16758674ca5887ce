"""One run per results folder: an exclusive lock held by the Snakemake process that writes it.

Snakemake's own lock lives in ``.snakemake/`` of the working directory, so it keeps two runs
from one directory apart but not two runs from different directories whose config names the
same (absolute) ``results`` folder. ``hold_results_lock`` closes that gap: the main Snakemake
process (``onstart`` in ``rules/common.smk``) takes a non-blocking ``flock`` on
``RESULTS/.run.lock`` and keeps it until it exits. A second run stops before its first job,
naming the holder. The kernel drops the lock when its process dies, so a killed run leaves
no stale lock of this kind (Snakemake's own one needs ``snakemake --unlock``).
"""

from __future__ import annotations

import fcntl
import os
import socket
import time
from pathlib import Path

from .errors import PipelineError

__all__ = ["LOCK_NAME", "ResultsInUse", "hold_results_lock"]

LOCK_NAME = ".run.lock"
_HELD: dict[str, int] = {}  # results folder -> open descriptor, kept for the process's life


class ResultsInUse(PipelineError):
    """Another process holds the results folder's lock."""


def hold_results_lock(results, *, workdir=None) -> Path:
    """Lock ``results`` for this process until it exits; return the lock file's path.

    Parameters
    ----------
    results : path
        The results folder (created if missing).
    workdir : path, optional
        Written into the lock file with the pid, host and time, for the message of a
        second run (default: the current directory).

    Raises
    ------
    ResultsInUse
        If another process holds the lock; the message names the folder and the holder.
    """
    path = Path(results) / LOCK_NAME
    key = str(path.resolve())
    if key in _HELD:
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.pread(fd, 4096, 0).decode(errors="replace").strip() or "unknown"
        os.close(fd)
        raise ResultsInUse(
            f"{Path(results).resolve()}: this results folder is in use by another snakemake "
            f"run ({holder}). Two runs must not write one results folder: wait for that run "
            f"to end (or stop it), then run your command again.") from None
    about = (f"pid {os.getpid()} on {socket.gethostname()}, working directory "
             f"{Path(workdir or os.getcwd()).resolve()}, since "
             f"{time.strftime('%Y-%m-%d %H:%M:%S')}\n")
    os.ftruncate(fd, 0)
    os.pwrite(fd, about.encode(), 0)
    _HELD[key] = fd
    return path
