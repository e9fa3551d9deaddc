"""Top-1 agreement and accuracy of a model's outputs: one rule for every command.

A head's classes are its first non-batch axis longer than one, once the axes of length one are dropped:
(N, C), (N, C, 1, 1) and (N, 1, C) are classifiers, one answer per input; (N, C, H, W) (segmentation, dense
detection) and (N, C, L) give one answer per position, the class with the largest score there, and agreement
and accuracy count positions. A head with no such axis (one score per input, (N, 1)) has no answers: its
agreement is None and only the relative output error measures it.

`pack`'s calibration summary, `--min-agreement`, `verify` (blobs and .tflite files) and the calibration
fine-tune's model selection all count with these functions, so that one number means the same everywhere.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from linrep_edge.errors import LinRepError


def as_array(a: Any) -> np.ndarray:
    """`a` (a numpy array or a CPU/GPU torch tensor) as a numpy array."""
    if hasattr(a, "detach"):
        return np.asarray(a.detach().cpu())
    return np.asarray(a)


def _class_dims(arr: np.ndarray) -> list[int] | None:
    """The non-batch axes of `arr` longer than one, the classes first; None when there are no classes."""
    dims = [int(d) for d in arr.shape[1:] if d != 1]
    return dims if arr.ndim >= 2 and dims and dims[0] >= 2 else None


def class_view(a: Any) -> np.ndarray | None:
    """Head `a` (N, ...) as (N, C, P): its C classes at P positions; None when it has no classes."""
    arr = as_array(a)
    dims = _class_dims(arr)
    return None if dims is None else arr.reshape(arr.shape[0], dims[0], -1)


def answers(a: Any) -> np.ndarray | None:
    """The class of each input and position of head `a`, (N, P) (P = 1 for a classifier); None without classes."""
    view = class_view(a)
    return None if view is None else view.argmax(1)


def agreement_counts(got: Any, want: Any) -> tuple[int, int]:
    """(answers of `got` equal to `want`'s, answers compared): 0, 0 when `want` has no classes. `got` holds
    as many values as `want`, in its layout."""
    w = answers(want)
    if w is None:
        return 0, 0
    g = answers(as_array(got).reshape(as_array(want).shape))
    assert g is not None
    return int((g == w).sum()), int(w.size)


def top1_agreement(got: Any, want: Any) -> float | None:
    """Share of `got`'s answers equal to `want`'s (per input, or per position for dense outputs); None when
    the head has no classes."""
    same, total = agreement_counts(got, want)
    return same / total if total else None


def accuracy(logits: Any, labels: Any, where: str = "labels") -> float | None:
    """Share of the answers of head `logits` equal to `labels`: one integer per input (N,) for a classifier,
    one per position (N, H, W) for a dense output. None without labels; a LinRepError naming `where` when
    the labels do not fit the head."""
    if labels is None:
        return None
    a = answers(logits)
    lab = as_array(labels)
    shape = tuple(as_array(logits).shape)
    if a is None:
        raise LinRepError(f"{where}: the model's first output {shape} has one value per input, no class scores: "
                          "accuracy needs a classifier (compare with the original's outputs instead)")
    if lab.size != a.size:
        per = "one per input" if a.shape[1] == 1 else f"one per position, {a.shape[1]} per input"
        raise LinRepError(f"{where}: {lab.size} labels (shape {tuple(lab.shape)}) for outputs of shape {shape}: "
                          f"expected {a.size} ({per})")
    return float((a == lab.reshape(a.shape)).mean())


def answer_kind(a: Any) -> str | None:
    """How head `a` answers, for reports: "per input", "per position (H x W)", or None without classes."""
    dims = _class_dims(as_array(a))
    if dims is None:
        return None
    return "per input" if len(dims) == 1 else "per position (" + " x ".join(map(str, dims[1:])) + ")"
