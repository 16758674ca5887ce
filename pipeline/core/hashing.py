"""Content hashes: of files (sha256 of bytes) and of parameters (sha256 of canonical JSON).

>>> canonical_hash({"b": 1, "a": [1, 2]}) == canonical_hash({"a": [1, 2], "b": 1})
True
"""

from __future__ import annotations

import hashlib
import json

__all__ = ["canonical_hash", "content_hash", "sha256_file"]


def sha256_file(path, chunk: int = 1 << 20) -> str:
    """Hex sha256 of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def content_hash(paths) -> str:
    """sha256 of one file, or of the sorted per-file hashes for a multi-file item."""
    paths = list(paths)
    if len(paths) == 1:
        return sha256_file(paths[0])
    return hashlib.sha256("".join(sha256_file(p) for p in paths).encode()).hexdigest()


def canonical_hash(obj, length: int = 10) -> str:
    """Short sha256 of the canonical JSON of ``obj``."""
    text = json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:length]
