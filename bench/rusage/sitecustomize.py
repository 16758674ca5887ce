"""Exact CPU time and peak memory of every Python process of a benchmarked run.

bench/bench_scale_run.py puts this folder first on PYTHONPATH and sets BENCH_RUSAGE_LOG; each
Python process (Snakemake and every ``python -m pipeline <stage>`` job) then appends one JSON
line at exit: argv, user + system CPU seconds of itself and of the children it waited for,
and its peak resident memory.  Snakemake's ``benchmark:`` files sample CPU time at 0.5 s, then
30 s intervals, so they miss the tail of a job; these lines do not.
"""

import atexit
import os

__all__ = []

_LOG = os.environ.get("BENCH_RUSAGE_LOG")


def _write():
    import json
    import resource
    import sys
    import time

    me = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    record = {"argv": list(sys.argv), "pid": os.getpid(), "end": time.time(),
              "cpu_s": me.ru_utime + me.ru_stime, "children_cpu_s": kids.ru_utime + kids.ru_stime,
              "maxrss_mb": me.ru_maxrss / 1024, "children_maxrss_mb": kids.ru_maxrss / 1024}
    with open(_LOG, "a") as f:  # one short line per write: appends do not interleave
        f.write(json.dumps(record) + "\n")


if _LOG:
    atexit.register(_write)
