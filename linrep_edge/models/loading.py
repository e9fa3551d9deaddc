"""Where a model comes from: the embedded default, a torch.export program (.pt2), or
`package.module:factory` with a state dict. Each returns an eval-mode module and an example input.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import TYPE_CHECKING

import torch
from torch import nn

from linrep_edge.errors import LinRepError
from linrep_edge.models.resnet8 import DEFAULT_INPUT_SHAPE, load_default_model

if TYPE_CHECKING:
    from linrep_edge.format.ir import Graph


def parse_shape(text: str) -> tuple[int, ...]:
    """'1,1,28,28' or '1x1x28x28' → (1, 1, 28, 28)."""
    try:
        dims = tuple(int(p) for p in text.replace("x", ",").split(",") if p.strip())
    except ValueError:
        raise LinRepError(f"--input-shape {text!r}: expected integers like 1,1,28,28") from None
    if len(dims) < 2 or any(d <= 0 for d in dims):
        raise LinRepError(f"--input-shape {text!r}: expected positive dims, batch first (e.g. 1,1,28,28)")
    if dims[0] != 1:
        raise LinRepError(f"--input-shape {text!r}: batch size must be 1")
    return dims


def load_default() -> tuple[nn.Module, torch.Tensor]:
    return load_default_model(), torch.zeros(DEFAULT_INPUT_SHAPE)


def model_kind(spec: str) -> str:
    """How a MODEL argument (pack, compress, verify --model) is read, by its name: "onnx" (.onnx), "tflite"
    (.tflite), "program" (a .pt2, or any other existing file: a torch.export archive) or "factory"
    (package.module:factory)."""
    low = spec.lower()
    if low.endswith(".onnx"):
        return "onnx"
    if low.endswith(".tflite"):
        return "tflite"
    return "program" if spec.endswith(".pt2") or Path(spec).exists() else "factory"


def load_model(spec: str, weights: str | None = None, input_shape: str | None = None,
               trust: bool = False) -> tuple[nn.Module, torch.Tensor, str]:
    """A MODEL argument → (the model in eval mode, an example input, its `model_kind`). `input_shape` ("1,3,32,32")
    is the factory's input and an ONNX model's when its own is not static; `weights` a factory's state dict;
    `trust` lets a .pt2 hold pickles (`load_pt2`)."""
    kind = model_kind(spec)
    if kind == "onnx":
        from linrep_edge.models.onnx_import import load_onnx

        return *load_onnx(spec, parse_shape(input_shape) if input_shape else None), kind
    if kind == "tflite":
        return *load_tflite(spec), kind
    if kind == "program":
        return *load_pt2(spec, trust=trust), kind
    return *load_factory(spec, weights, input_shape), kind


def load_tflite(path: str | Path | bytes) -> tuple[nn.Module, torch.Tensor]:
    """An fp32 (or dynamic-range) `.tflite` → a trainable GraphModel of the imported graph and an example input of
    its shape ([1, C, H, W]: the graph is NCHW, as every linrep-edge model; the file's NHWC input is transposed
    where it is read). A full-integer file is refused: it is packed as it is (`pack model.tflite` keeps its
    integers), not compressed again."""
    from linrep_edge.format.text import shown
    from linrep_edge.models.tflite_import import import_tflite

    g = import_tflite(path)
    if g.is_int8:
        where = "<.tflite bytes>" if isinstance(path, bytes) else shown(Path(path))
        raise LinRepError(f"{where}: a full-integer (int8) .tflite is not a float model to compress or to compare "
                          "with: `pack file.tflite` packs it as it is, `verify file.tflite` checks it against TFLite "
                          "Micro; give its float original instead")
    return tflite_model(g)


def tflite_model(g: Graph) -> tuple[nn.Module, torch.Tensor]:
    """An imported float .tflite graph (`import_tflite`) → (the trainable GraphModel, an example input)."""
    from linrep_edge.graph.executor import GraphModel

    return GraphModel(g).eval(), torch.zeros((1, *g.tensors[g.input].shape))


def load_pt2(path: str | Path, trust: bool = False) -> tuple[nn.Module, torch.Tensor]:
    """A torch.export program file → a trainable GraphModel (BN folded) and an example input.

    The archive is read once into memory and vetted by `pt2_check.check_pt2_archive` (no pickles,
    no native code, no symbolic expressions: nothing in it may run code) before torch sees the same
    bytes; trust=True (`--trust-pt2`) skips the vetting for a file trusted like Python code."""
    from linrep_edge.format.text import shown
    from linrep_edge.graph.capture import capture_program
    from linrep_edge.graph.executor import GraphModel
    from linrep_edge.models.pt2_check import MAX_ARCHIVE_BYTES, check_pt2_archive

    import io
    import logging
    import zipfile

    p = Path(path)
    where = shown(p)
    data = read_bounded(p, MAX_ARCHIVE_BYTES)
    if not zipfile.is_zipfile(io.BytesIO(data)):
        raise LinRepError(f"{where}: not a torch.export program (not a .pt2 zip archive)")
    def restricted(raw: bytes) -> object:
        import warnings

        with warnings.catch_warnings():  # the restricted unpickler warns about protocols on hostile input
            warnings.simplefilter("ignore")
            return torch.load(io.BytesIO(raw), weights_only=True)

    if not trust:
        check_pt2_archive(data, where, restricted)
    log = logging.getLogger("torch.export")
    level = log.level
    log.setLevel(logging.CRITICAL)  # torch logs its own traceback before raising; the error below says it
    try:
        ep = torch.export.load(io.BytesIO(data))
    except Exception as exc:
        raise LinRepError(f"{where}: not a torch.export program ({type(exc).__name__}: "
                          f"{shown(str(exc).splitlines()[0] if str(exc) else '', 200)})") from None
    finally:
        log.setLevel(level)
    g = capture_program(ep)
    example = torch.zeros((1, *g.tensors[g.input].shape))
    return GraphModel(g).eval(), example


def _check_state_dict(model: nn.Module, state: dict, where: str, shown: int = 6) -> None:
    """One error naming the keys the state dict lacks, the keys it has too many, and the shapes that differ."""
    own = model.state_dict()

    def names(keys: list[str]) -> str:
        return ", ".join(keys[:shown]) + (f" and {len(keys) - shown} more" if len(keys) > shown else "")
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    shapes = [f"{k} {tuple(state[k].shape)} vs the model's {tuple(own[k].shape)}" for k in own
              if k in state and isinstance(state[k], torch.Tensor) and state[k].shape != own[k].shape]
    parts = ([f"missing {len(missing)} key(s): {names(missing)}"] if missing else []) + \
            ([f"unexpected {len(unexpected)} key(s): {names(unexpected)}"] if unexpected else []) + \
            ([f"{len(shapes)} shape(s) differ: {names(shapes)}"] if shapes else [])
    if parts:
        hint = ""
        if unexpected and all(k.startswith("module.") for k in unexpected):
            hint = " (saved from DataParallel/DDP: strip the 'module.' prefix)"
        raise LinRepError(f"--weights {where} does not match the model: " + "; ".join(parts) + hint)


def read_bounded(path: Path, limit: int) -> bytes:
    """The bytes of a model file, read once and at most `limit` of them; LinRepError when it is missing,
    unreadable or larger."""
    from linrep_edge.format.text import shown

    where = shown(path)
    if not path.is_file():
        raise LinRepError(f"{where}: no such file")
    try:
        with open(path, "rb") as f:
            data = f.read(limit + 1)
    except OSError as exc:
        raise LinRepError(f"{where}: cannot read ({exc.strerror})") from None
    if len(data) > limit:
        raise LinRepError(f"{where}: larger than {limit >> 20} MiB")
    return data


def load_factory(spec: str, weights: str | None, input_shape: str | None) -> tuple[nn.Module, torch.Tensor]:
    """`package.module:factory` called with no arguments, then `weights` (a state dict) loaded."""
    mod_name, _, fn_name = spec.partition(":")
    if not mod_name or not fn_name:
        raise LinRepError(f"model {spec!r}: expected package.module:factory")
    if input_shape is None:
        raise LinRepError(f"model {spec!r}: --input-shape is required (e.g. 1,1,28,28)")
    try:
        factory = getattr(importlib.import_module(mod_name), fn_name)
    except (ImportError, AttributeError) as exc:
        raise LinRepError(f"model {spec!r}: cannot import ({exc})") from None
    model = factory()
    if not isinstance(model, nn.Module):
        raise LinRepError(f"model {spec!r}: factory returned {type(model).__name__}, not a torch.nn.Module")
    if weights:
        wp = Path(weights)
        if not wp.is_file():
            raise LinRepError(f"--weights {wp}: no such file")
        try:
            state = torch.load(wp, map_location="cpu", weights_only=True)
        except Exception as exc:
            raise LinRepError(f"--weights {wp}: not a torch state dict ({type(exc).__name__})") from None
        if isinstance(state, dict) and "state_dict" in state and isinstance(state["state_dict"], dict):
            state = state["state_dict"]
        if not isinstance(state, dict):
            raise LinRepError(f"--weights {wp}: not a state dict (a {type(state).__name__})")
        _check_state_dict(model, state, str(wp))
        try:
            model.load_state_dict(state)
        except (RuntimeError, TypeError) as exc:
            raise LinRepError(f"--weights {wp}: does not match the model ({str(exc).splitlines()[0]})") from None
    return model.eval(), torch.zeros(parse_shape(input_shape))
