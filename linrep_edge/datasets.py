"""Offline data sets: Fashion-MNIST from Debian's idx files, scikit-learn's 8x8 digits.

Images come back as float32 tensors of shape (N, 1, H, W) scaled to [0, 1] and labels as int64, so the
same arrays feed torch, the C runtime and `linrep-edge verify --inputs`. Validation splits are carved
from the training data with a fixed seed; the test split is only ever used to report.
"""

from __future__ import annotations

import gzip
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from linrep_edge.errors import LinRepError

FASHION_MNIST_DIR = Path("/usr/share/datasets/fashion-mnist")
FASHION_MNIST_ENV = "LINREP_FASHION_MNIST_DIR"
DATASETS = ("fashion-mnist", "digits")


@dataclass(frozen=True)
class Split:
    """Images (N, 1, H, W) float32 in [0, 1] and labels (N,) int64."""

    x: torch.Tensor
    y: torch.Tensor

    def __len__(self) -> int:
        return int(self.y.shape[0])

    def take(self, limit: int | None) -> "Split":
        if limit is None or limit >= len(self):
            return self
        return Split(self.x[:limit], self.y[:limit])

    def loader(self, batch_size: int = 128, shuffle: bool = False, seed: int = 0) -> torch.utils.data.DataLoader:
        gen = torch.Generator().manual_seed(seed)
        ds = torch.utils.data.TensorDataset(self.x, self.y)
        return torch.utils.data.DataLoader(ds, batch_size=batch_size, shuffle=shuffle, generator=gen)


@dataclass(frozen=True)
class Dataset:
    name: str
    train: Split
    test: Split

    def train_val(self, n_val: int, seed: int = 0) -> tuple[Split, Split]:
        """Carve a validation split of `n_val` images from the training data (fixed permutation)."""
        n = len(self.train)
        if not 0 < n_val < n:
            raise LinRepError(f"validation size {n_val} must be between 1 and {n - 1}")
        perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
        val, tr = perm[:n_val], perm[n_val:]
        return Split(self.train.x[tr], self.train.y[tr]), Split(self.train.x[val], self.train.y[val])


def _read_idx(path: Path) -> np.ndarray:
    if not path.exists():
        raise LinRepError(
            f"Fashion-MNIST file not found: {path} (install it with `apt-get install dataset-fashion-mnist`, "
            f"or point {FASHION_MNIST_ENV} at a folder holding the idx .gz files)"
        )
    try:
        with gzip.open(path, "rb") as f:
            raw = f.read()
    except (OSError, EOFError) as exc:
        raise LinRepError(f"cannot read {path}: {exc}") from None
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08:
        raise LinRepError(f"{path} is not an idx file of unsigned bytes")
    ndim = raw[3]
    dims = [int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim)]
    data = np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim)
    if data.size != int(np.prod(dims)):
        raise LinRepError(f"{path} is truncated: header says {dims}, found {data.size} bytes")
    return data.reshape(dims)


def load_fashion_mnist(root: str | Path | None = None) -> Dataset:
    """Fashion-MNIST, 60k train / 10k test, from the idx files of Debian's `dataset-fashion-mnist`."""
    base = Path(root or os.environ.get(FASHION_MNIST_ENV) or FASHION_MNIST_DIR)

    def split(prefix: str) -> Split:
        images = _read_idx(base / f"{prefix}-images-idx3-ubyte.gz")
        labels = _read_idx(base / f"{prefix}-labels-idx1-ubyte.gz")
        x = torch.from_numpy(images.astype(np.float32) / 255.0).unsqueeze(1)
        return Split(x, torch.from_numpy(labels.astype(np.int64)))

    return Dataset("fashion-mnist", split("train"), split("t10k"))


def fashion_mnist_present(root: str | Path | None = None) -> bool:
    """Whether Fashion-MNIST's training files are installed (where `load_fashion_mnist` reads them)."""
    base = Path(root or os.environ.get(FASHION_MNIST_ENV) or FASHION_MNIST_DIR)
    return all((base / f"train-{kind}-idx{n}-ubyte.gz").is_file() for kind, n in (("images", 3), ("labels", 1)))


def load_digits(n_test: int = 400, seed: int = 0) -> Dataset:
    """scikit-learn's 1,797 real 8x8 digits, scaled to [0, 1], split with a fixed permutation."""
    from sklearn.datasets import load_digits as _sk_digits

    d = _sk_digits()
    x = torch.from_numpy((d.images / 16.0).astype(np.float32)).unsqueeze(1)
    y = torch.from_numpy(d.target.astype(np.int64))
    perm = torch.randperm(len(y), generator=torch.Generator().manual_seed(seed))
    te, tr = perm[:n_test], perm[n_test:]
    return Dataset("digits", Split(x[tr], y[tr]), Split(x[te], y[te]))


def load_dataset(name: str) -> Dataset:
    if name == "fashion-mnist":
        return load_fashion_mnist()
    if name == "digits":
        return load_digits()
    raise LinRepError(f"unknown data set {name!r}; choose one of {', '.join(DATASETS)}")
