"""Training data for fine-tuning: the built-in sets, or the user's own.

`--data` takes one of:
  fashion-mnist | digits       the offline sets (datasets.py), split exactly as `pack --finetune-epochs` does
  DIR                          an image folder, one sub-folder per class (sorted names = labels 0, 1, ...);
                               images are read with PIL, converted to the model's channels (L or RGB),
                               resized to its input size and scaled to [0, 1] unless `--transform` is given
  FILE.npz                     arrays `x` and `y` (or exactly two arrays: inputs, then labels), or one array
                               `x` alone (unlabelled: distillation only)
  FILE.npy                     inputs; labels from `--labels Y.npy`, or none (unlabelled)
  package.module:function      called with no arguments, returns a map-style torch.utils.data.Dataset whose
                               items are (x, label) or x alone (unlabelled)
Arrays may be (N, C, H, W) or (N, H, W, C) (or (N, H, W) for one channel); uint8 is scaled by 1/255.
`--transform package.module:function` names a callable applied to every input (a PIL image for folders,
a tensor otherwise) before the model sees it.

The validation split for choices is carved from the training data with a fixed permutation of the seed,
as `Dataset.train_val` does (built-ins: the same images as `pack`); `check_data` compares the data's input
shape and labels with the model before any work and raises one LinRepError naming the mismatch.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
from torch.utils.data import Dataset, Subset, TensorDataset

from linrep_edge.datasets import DATASETS
from linrep_edge.errors import LinRepError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm", ".pgm")
DEFAULT_VAL_FRACTION = 0.1
MAX_DEFAULT_VAL = 5000


@dataclass
class TrainData:
    name: str  # what the blob's metadata records as "data"
    train: Dataset
    val: Dataset
    labelled: bool
    classes: int | None = None  # number of classes the data declares (folders), if known


def load_callable(spec: str, what: str) -> Callable[..., Any]:
    mod_name, _, fn_name = spec.partition(":")
    if not mod_name or not fn_name:
        raise LinRepError(f"{what} {spec!r}: expected package.module:function")
    try:
        fn = getattr(importlib.import_module(mod_name), fn_name)
    except (ImportError, AttributeError) as exc:
        raise LinRepError(f"{what} {spec!r}: cannot import ({exc})") from None
    if not callable(fn):
        raise LinRepError(f"{what} {spec!r}: not callable")
    return fn


class ArrayDataset(Dataset):
    """Inputs (N, C, H, W) float32 and optional labels (N,) int64."""

    def __init__(self, x: torch.Tensor, y: torch.Tensor | None) -> None:
        self.x, self.y = x, y

    def __len__(self) -> int:
        return int(self.x.shape[0])

    def __getitem__(self, i: int) -> Any:
        return self.x[i] if self.y is None else (self.x[i], self.y[i])


class ImageFolder(Dataset):
    """root/<class>/<image>: labels from the sorted sub-folder names."""

    def __init__(self, root: Path, channels: int, size: tuple[int, int], transform: Callable | None) -> None:
        self.classes = sorted(d.name for d in root.iterdir() if d.is_dir() and not d.name.startswith("."))
        if not self.classes:
            raise LinRepError(f"--data {root}: an image folder needs one sub-folder per class; found none")
        self.samples = [(f, label) for label, c in enumerate(self.classes) for f in sorted((root / c).rglob("*"))
                        if f.suffix.lower() in IMAGE_SUFFIXES and f.is_file()]
        if not self.samples:
            raise LinRepError(f"--data {root}: no images ({', '.join(IMAGE_SUFFIXES)}) in its class folders")
        if channels not in (1, 3):
            raise LinRepError(f"--data {root}: the model takes {channels} channels; images give 1 (L) or 3 (RGB)")
        self.mode = "L" if channels == 1 else "RGB"
        self.size = size
        self.transform = transform

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        from PIL import Image

        path, label = self.samples[i]
        try:
            with Image.open(path) as im:
                im = im.convert(self.mode)
                if self.transform is not None:
                    return self.transform(im), label
                if im.size != (self.size[1], self.size[0]):
                    im = im.resize((self.size[1], self.size[0]), Image.BILINEAR)
                a = np.asarray(im, dtype=np.float32) / 255.0
        except OSError as exc:
            raise LinRepError(f"{path}: cannot read the image ({exc})") from None
        t = torch.from_numpy(a.copy())
        return (t.unsqueeze(0) if t.dim() == 2 else t.permute(2, 0, 1)).contiguous(), label


class Transformed(Dataset):
    def __init__(self, base: Dataset, fn: Callable) -> None:
        self.base, self.fn = base, fn

    def __len__(self) -> int:
        return len(self.base)  # type: ignore[arg-type]

    def __getitem__(self, i: int) -> Any:
        item = self.base[i]
        if isinstance(item, (tuple, list)):
            return (self.fn(item[0]), *item[1:])
        return self.fn(item)


def channels_first(a: np.ndarray, channels: int) -> np.ndarray:
    """Image inputs as (N, C, H, W): (N, H, W) of a one-channel model gains its channel axis, NHWC arrays (the
    channel count last, not first) are transposed; anything else is returned as it is. The one rule for
    `--data` arrays, `pack --calibration` and `verify --inputs`."""
    if a.ndim == 3 and channels == 1:
        return a[:, None]
    if a.ndim == 4 and a.shape[1] != channels and a.shape[3] == channels:
        return a.transpose(0, 3, 1, 2)  # NHWC
    return a


def _as_inputs(a: np.ndarray, channels: int, where: str) -> torch.Tensor:
    if a.dtype == np.uint8:
        a = a.astype(np.float32) / 255.0
    if not np.issubdtype(a.dtype, np.number):
        raise LinRepError(f"{where}: inputs must be numbers, got dtype {a.dtype}")
    a = channels_first(a.astype(np.float32, copy=False), channels)
    return torch.from_numpy(np.ascontiguousarray(a))


ONE_ANSWER_SHARE = 0.9  # a classifier giving one class to at least this share of the inputs gets a note
ONE_ANSWER_MIN_INPUTS = 20
ONE_ANSWER_MIN_CLASSES = 3


def one_answer_note(logits: np.ndarray | torch.Tensor, where: str) -> str | None:
    """A note when the original classifier gives one class to nearly every input (at least ONE_ANSWER_SHARE of
    ONE_ANSWER_MIN_INPUTS or more, ONE_ANSWER_MIN_CLASSES classes or more): what a model does on inputs scaled
    otherwise than it was trained on (uint8 images are scaled by 1/255 here; MLPerf Tiny's CIFAR-10 ResNet,
    for one, takes 0..255), and fidelity measured on them says little about its real inputs."""
    out = np.asarray(logits.detach().cpu() if isinstance(logits, torch.Tensor) else logits)
    if out.ndim != 2 or out.shape[0] < ONE_ANSWER_MIN_INPUTS or out.shape[1] < ONE_ANSWER_MIN_CLASSES:
        return None
    counts = np.bincount(out.argmax(1), minlength=out.shape[1])
    top = int(counts.argmax())
    if counts[top] < ONE_ANSWER_SHARE * out.shape[0]:
        return None
    return (f"warning: {where}: the original model gives class {top} to {int(counts[top])} of the {out.shape[0]} "
            "inputs: are they scaled as the model expects? uint8 arrays are scaled by 1/255 to [0, 1]; for a model "
            "that takes another range (0..255, mean/std-normalised, int8-centred) give float32 arrays in that "
            "range. Fidelity measured on such inputs says little about the model's real ones")


def _as_labels(a: np.ndarray, n: int, where: str) -> torch.Tensor:
    if a.ndim != 1 or a.shape[0] != n:
        raise LinRepError(f"{where}: labels must be one integer per input ({n}), got shape {a.shape}")
    if not np.issubdtype(a.dtype, np.integer):
        if not np.all(np.mod(a, 1) == 0):
            raise LinRepError(f"{where}: labels must be integers, got dtype {a.dtype}")
    return torch.from_numpy(a.astype(np.int64))


def _load_arrays(p: Path, labels: str | None, channels: int) -> ArrayDataset:
    try:
        if p.suffix == ".npz":
            with np.load(p, allow_pickle=False) as z:
                keys = list(z.files)
                if "x" in keys:
                    x, y = z["x"], (z["y"] if "y" in keys else None)
                elif len(keys) in (1, 2):
                    x, y = z[keys[0]], (z[keys[1]] if len(keys) == 2 else None)
                else:
                    raise LinRepError(f"--data {p}: expected arrays 'x' and 'y' (or exactly two arrays), "
                                      f"found {', '.join(keys) or 'none'}")
        else:
            x = np.load(p, allow_pickle=False)
            y = None
        if labels is not None:
            if y is not None:
                raise LinRepError(f"--labels: {p} already holds labels")
            y = np.load(labels, allow_pickle=False)
    except (OSError, ValueError) as exc:
        if isinstance(exc, LinRepError):
            raise
        raise LinRepError(f"--data {p}: cannot read the arrays ({exc})") from None
    xt = _as_inputs(np.asarray(x), channels, f"--data {p}")
    yt = None if y is None else _as_labels(np.asarray(y), xt.shape[0], f"--data {p}")
    return ArrayDataset(xt, yt)


def _carve(ds: Dataset, n_val: int, seed: int, where: str) -> tuple[Dataset, Dataset]:
    n = len(ds)  # type: ignore[arg-type]
    if not 0 < n_val < n:
        raise LinRepError(f"{where}: validation size {n_val} must be between 1 and {n - 1} (the data has {n} items)")
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    val, tr = perm[:n_val], perm[n_val:]
    if isinstance(ds, ArrayDataset):
        return (ArrayDataset(ds.x[tr], None if ds.y is None else ds.y[tr]),
                ArrayDataset(ds.x[val], None if ds.y is None else ds.y[val]))
    return Subset(ds, tr.tolist()), Subset(ds, val.tolist())


def _first_n(ds: Dataset, limit: int | None) -> Dataset:
    if limit is None or limit >= len(ds):  # type: ignore[arg-type]
        return ds
    if limit < 1:
        raise LinRepError(f"--limit must be >= 1, got {limit}")
    if isinstance(ds, TensorDataset):
        return TensorDataset(*(t[:limit] for t in ds.tensors))
    if isinstance(ds, ArrayDataset):
        return ArrayDataset(ds.x[:limit], None if ds.y is None else ds.y[:limit])
    return Subset(ds, list(range(limit)))


def open_data(spec: str, example_shape: tuple[int, ...], fn: Callable | None = None,
              labels: str | None = None) -> tuple[Dataset, int | None]:
    """The whole data set named by `spec` (an image folder, FILE.npz / FILE.npy, package.module:function; not a
    built-in name) for a model whose input is `example_shape`, `fn` applied to every input, and the class count
    the data declares (folders) or None."""
    channels = int(example_shape[1]) if len(example_shape) >= 2 else 1
    classes = None
    p = Path(spec)
    if p.is_dir():
        full: Dataset = ImageFolder(p, channels, tuple(example_shape[2:4]) if len(example_shape) == 4 else (0, 0), fn)
        classes = len(full.classes)  # type: ignore[attr-defined]
        fn = None  # applied by the folder to the PIL image
    elif p.suffix in (".npy", ".npz"):
        if not p.is_file():
            raise LinRepError(f"--data {p}: no such file")
        full = _load_arrays(p, labels, channels)
    elif ":" in spec and not p.exists():
        factory = load_callable(spec, "--data")
        try:
            full = factory()
        except LinRepError:
            raise
        except Exception as exc:
            raise LinRepError(f"--data {spec}: the factory failed ({type(exc).__name__}: {exc})") from None
        if not hasattr(full, "__getitem__") or not hasattr(full, "__len__"):
            raise LinRepError(f"--data {spec}: the factory returned {type(full).__name__}, "
                              "not a map-style torch.utils.data.Dataset")
    else:
        raise LinRepError(f"--data {spec!r}: not {', '.join(DATASETS)}, an image folder, a .npy/.npz file "
                          "or package.module:function")
    if labels is not None and p.suffix not in (".npy", ".npz"):
        raise LinRepError("--labels goes with --data FILE.npy")
    if fn is not None:
        full = Transformed(full, fn)
    return full, classes


def eval_arrays(spec: str, example_shape: tuple[int, ...], labels: str | None = None,
                limit: int | None = None) -> tuple[np.ndarray, np.ndarray | None]:
    """Every item (the first `limit`) of the data set `spec` (as `open_data` takes it) as float32 inputs and int
    labels (None when unlabelled), for `verify --data`: the whole set, no validation carved."""
    full, _ = open_data(spec, example_shape, labels=labels)
    n = len(full)  # type: ignore[arg-type]
    n = n if limit is None else min(n, limit)
    if n < 1:
        raise LinRepError(f"--data {spec}: no items")
    if isinstance(full, ArrayDataset):
        x, y = full.x[:n], (None if full.y is None else full.y[:n])
    else:
        items = [full[i] for i in range(n)]
        pairs = isinstance(items[0], (tuple, list))
        x = torch.stack([torch.as_tensor(it[0] if pairs else it) for it in items])
        y = torch.tensor([int(it[1]) for it in items]) if pairs else None
    return x.float().numpy(), None if y is None else y.numpy().astype(np.int64)


def resolve_data(spec: str, example_shape: tuple[int, ...], seed: int = 0, val_size: int | None = None,
                 limit: int | None = None, transform: str | None = None, labels: str | None = None) -> TrainData:
    """The (train, validation) data sets named by `spec` for a model whose input is `example_shape`."""
    fn = load_callable(transform, "--transform") if transform else None
    name = spec
    classes = None
    if spec in DATASETS:
        from linrep_edge.pipeline import VALIDATION_IMAGES, finetune_split

        if val_size is not None and val_size != VALIDATION_IMAGES[spec]:
            raise LinRepError(f"--val-size: the {spec} validation split is fixed at {VALIDATION_IMAGES[spec]} images "
                              "(the split `pack` uses)")
        tr, va, _ = finetune_split(spec, seed)
        train: Dataset = TensorDataset(tr.x, tr.y)
        val: Dataset = TensorDataset(va.x, va.y)
        if fn is not None:
            train, val = Transformed(train, fn), Transformed(val, fn)
        labelled = True
    else:
        full, classes = open_data(spec, example_shape, fn, labels)
        n = len(full)  # type: ignore[arg-type]
        if n < 2:
            raise LinRepError(f"--data {spec}: {n} item(s); need at least 2 (training and validation)")
        v = val_size if val_size is not None else min(MAX_DEFAULT_VAL, max(1, round(DEFAULT_VAL_FRACTION * n)))
        train, val = _carve(full, v, seed, f"--data {spec}")
        labelled = isinstance(train[0], (tuple, list))  # type: ignore[index]
    if limit is not None:
        train = _first_n(train, limit)
        name = f"{spec}[:{limit}]"
    return TrainData(name, train, val, labelled, classes)


def check_data(data: TrainData, model: torch.nn.Module, example: torch.Tensor, distill: float = 0.0) -> int:
    """Raise one LinRepError if the data does not fit the model: input shape, label range, unlabelled data
    without distillation. Returns the model's number of outputs."""
    where = f"--data {data.name}"
    if len(data.train) == 0:  # type: ignore[arg-type]
        raise LinRepError(f"{where}: no training items")
    item = data.train[0]  # type: ignore[index]
    x = item[0] if isinstance(item, (tuple, list)) else item
    if not isinstance(x, torch.Tensor):
        raise LinRepError(f"{where}: inputs must be tensors, got {type(x).__name__} (give a --transform that "
                          "returns a tensor)")
    want = tuple(example.shape[1:])
    if tuple(x.shape) != want:
        raise LinRepError(f"{where}: inputs have shape {tuple(x.shape)} but the model takes {want} "
                          f"(--input-shape {','.join(map(str, example.shape))})")
    with torch.no_grad():
        out = model.eval()(example)
    n_out = int(out.shape[1]) if out.dim() >= 2 else int(out.numel())
    if not data.labelled:
        if distill < 1:
            raise LinRepError(f"{where}: the data has no labels; fine-tune by distillation from the original "
                              "model with --distill 1")
        return n_out
    if data.classes is not None and data.classes > n_out:
        raise LinRepError(f"{where}: {data.classes} classes but the model has {n_out} outputs")
    ys = _labels_of(data.train)
    if ys is None:
        ys = torch.as_tensor([int(item[1])])
    if ys.numel() and (int(ys.min()) < 0 or int(ys.max()) >= n_out):
        raise LinRepError(f"{where}: labels must be in 0..{n_out - 1} (the model has {n_out} outputs), "
                          f"found {int(ys.min())}..{int(ys.max())}")
    return n_out


def _labels_of(ds: Dataset) -> torch.Tensor | None:
    """All labels when they are at hand without reading every input; else None."""
    if isinstance(ds, TensorDataset) and len(ds.tensors) > 1:
        return ds.tensors[1]
    if isinstance(ds, ArrayDataset):
        return ds.y
    if isinstance(ds, Transformed):
        return _labels_of(ds.base)
    if isinstance(ds, Subset):
        inner = _labels_of(ds.dataset)
        return None if inner is None else inner[torch.as_tensor(ds.indices, dtype=torch.long)]
    if isinstance(ds, ImageFolder):
        return torch.as_tensor([label for _, label in ds.samples])
    return None
