"""Row-vector helpers shared by training, evaluation and embedding: unit rows, group means.

>>> import numpy as np
>>> unit_rows(np.array([[3.0, 4.0], [0.0, 0.0]]))
array([[0.6, 0.8],
       [0. , 0. ]])
>>> means, counts = group_means(np.array([[1.0], [3.0], [10.0]]), np.array([0, 0, 1]), 2)
>>> means.ravel().tolist(), counts.tolist()
([2.0, 10.0], [2, 1])
"""

from __future__ import annotations

import numpy as np

__all__ = ["group_means", "unit_rows"]


def unit_rows(x: np.ndarray, *, eps: float = 1e-12) -> np.ndarray:
    """``x`` with each row (last axis) scaled to unit L2 norm; a zero row stays zero.

    Parameters
    ----------
    x : np.ndarray [shape=(..., d)]
    eps : float  norms below it divide by ``eps`` instead (so zero rows give zeros)

    Returns
    -------
    np.ndarray [shape=(..., d), float64 for float64 input]
    """
    x = np.asarray(x)
    return x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), eps)


def group_means(vectors: np.ndarray, codes: np.ndarray, n_groups: int
                ) -> tuple[np.ndarray, np.ndarray]:
    """Mean vector of each group: rows of ``vectors`` summed in row order per code.

    Parameters
    ----------
    vectors : np.ndarray [shape=(n, d)]
    codes : np.ndarray [shape=(n,), int]  group of each row, 0 <= code < n_groups
    n_groups : int

    Returns
    -------
    means : np.ndarray [shape=(n_groups, d), float64]  NaN rows for empty groups
    counts : np.ndarray [shape=(n_groups,), int64]
    """
    vectors = np.asarray(vectors, dtype=np.float64)
    codes = np.asarray(codes)
    sums = np.zeros((n_groups, vectors.shape[1]))
    np.add.at(sums, codes, vectors)
    counts = np.bincount(codes, minlength=n_groups).astype(np.int64)
    with np.errstate(invalid="ignore", divide="ignore"):
        return sums / counts[:, None], counts
