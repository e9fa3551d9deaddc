"""The compressed-model checkpoint (`.lrc`): what `linrep-edge compress` writes, `finetune` reads, resumes
and writes, and `pack` turns into a blob.

A checkpoint is one `torch.save` archive of plain data — tensors, numbers, strings, lists and dicts, no
pickled classes or code — read back with `torch.load(weights_only=True)`. Format version 1 holds:

    format, version      "linrep-edge-checkpoint", 1
    source               where the uncompressed model comes from, so it can be rebuilt without pickled code:
                           kind "default"  the embedded ResNet-8
                           kind "factory"  `factory` ("package.module:function", importable where the
                                           checkpoint is read) and `weights`, the original state dict
                           kind "program"  `program`, the bytes of the torch.export .pt2 file (uint8 tensor)
                         plus `name` (the blob's "source" metadata) and `example_shape` (batch 1)
    settings             the PackSettings fields (compression options; fine-tuning epochs, lr and data
                         once fine-tuned), so `pack` writes the metadata the one-shot `pack` writes
    layers               per LinRep layer: module name, codebook id, codebook dtype, a/b bits and scale mode
    model                the compressed model's full state dict: templates, idx, masks, a, b, and every
                         parameter and buffer the method leaves alone
    train                None after `compress`; after (or during) `finetune`:
                           config        data, epochs, lr, global batch, seed, world size, distillation,
                                         validation size, limit, transform, digest of the input checkpoint
                           epoch, step_in_epoch, global_step, steps_per_epoch, total_steps, complete
                           optimizer, scheduler   their state dicts (Adam; cosine LambdaLR)
                           ranks         per process: torch / numpy / python RNG states, partial epoch loss
                           history       per finished epoch: mean training loss (all-reduced)
                           params        the unrounded a, b of the last step (the model holds a, b rounded
                                         to fp16 once training is complete, as the blob stores them)

The compressed model is rebuilt by building the original model from `source`, swapping each listed conv
for a `LinRepConv2d` and loading `model` strictly: the same tensors as the model `compress` made, so
`pack` of a checkpoint is byte-identical to the one-shot `pack` with the same settings and seed.
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import torch
from torch import nn

from linrep_edge.errors import LinRepError

FORMAT = "linrep-edge-checkpoint"
VERSION = 1
SUFFIX = ".lrc"


@dataclass
class ModelSource:
    kind: str  # "default" | "factory" | "program" (a .pt2's bytes) | "onnx" / "tflite" (the file's bytes)
    name: str  # the blob's "source" metadata
    example_shape: tuple[int, ...]
    factory: str | None = None
    weights: dict[str, torch.Tensor] | None = None
    program: bytes | None = None

    def build(self) -> tuple[nn.Module, torch.Tensor]:
        """The original (uncompressed) model in eval mode and a zero example input."""
        example = torch.zeros(self.example_shape)
        if self.kind == "default":
            from linrep_edge.models.loading import load_default

            return load_default()[0], example
        if self.kind == "factory":
            from linrep_edge.models.loading import load_factory

            model, _ = load_factory(str(self.factory), None, ",".join(map(str, self.example_shape)))
            try:
                model.load_state_dict(self.weights or {})
            except (RuntimeError, TypeError) as exc:
                raise LinRepError(f"checkpoint: the weights do not match {self.factory} as it is now "
                                  f"({str(exc).splitlines()[0]})") from None
            return model.eval(), example
        if self.kind == "tflite":
            from linrep_edge.models.loading import load_tflite

            return load_tflite(self.program or b"")
        if self.kind in ("program", "onnx"):
            import tempfile

            with tempfile.TemporaryDirectory() as d:
                p = Path(d) / ("model.pt2" if self.kind == "program" else "model.onnx")
                p.write_bytes(self.program or b"")
                if self.kind == "onnx":
                    from linrep_edge.models.onnx_import import load_onnx

                    return load_onnx(p, self.example_shape)
                from linrep_edge.models.loading import load_pt2

                return load_pt2(p)
        raise LinRepError(f"checkpoint: unknown model source kind {self.kind!r}")

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"kind": self.kind, "name": self.name, "example_shape": list(self.example_shape)}
        if self.factory is not None:
            d["factory"] = self.factory
            d["weights"] = {k: v.detach().clone() for k, v in (self.weights or {}).items()}
        if self.program is not None:
            d["program"] = torch.frombuffer(bytearray(self.program), dtype=torch.uint8).clone()
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "ModelSource":
        prog = d.get("program")
        return cls(d["kind"], d["name"], tuple(int(x) for x in d["example_shape"]), d.get("factory"),
                   d.get("weights"), None if prog is None else prog.numpy().tobytes())


def source_from_cli(model: str | None, default: bool, weights: str | None,
                    input_shape: str | None) -> tuple[nn.Module, torch.Tensor, ModelSource]:
    """Load a model the way `pack` does (--default, or a MODEL: `loading.load_model`) and describe it as a
    ModelSource a checkpoint can rebuild it from (a file's bytes, or a factory's name and weights)."""
    from linrep_edge.models.loading import load_default, load_model

    if default == bool(model):
        raise LinRepError("give either --default or a MODEL (file.pt2 or package.module:factory), not both or neither")
    if default:
        m, ex = load_default()
        return m, ex, ModelSource("default", "default", tuple(ex.shape))
    assert model is not None
    m, ex, kind = load_model(model, weights, input_shape)
    if kind == "factory":
        state = {k: v.detach().clone() for k, v in m.state_dict().items()}
        return m, ex, ModelSource("factory", model, tuple(ex.shape), factory=model, weights=state)
    return m, ex, ModelSource(kind, model, tuple(ex.shape), program=Path(model).read_bytes())


@dataclass
class Checkpoint:
    source: ModelSource
    settings: Any  # PackSettings
    layers: list[dict[str, Any]]
    model: dict[str, torch.Tensor]
    train: dict[str, Any] | None = None

    # --- building models -------------------------------------------------------------------------
    def build_original(self) -> tuple[nn.Module, torch.Tensor]:
        return self.source.build()

    def build_compressed(self) -> tuple[nn.Module, torch.Tensor]:
        """The compressed model (eval mode) exactly as saved, and the example input."""
        from linrep_edge.method.linrep_conv import LinRepConv2d, LinRepConvTranspose2d, _set_submodule

        model, example = self.source.build()
        for lay in self.layers:
            name = lay["name"]
            try:
                conv = model.get_submodule(name)
            except AttributeError:
                conv = None
            if not isinstance(conv, (nn.Conv2d, nn.ConvTranspose2d)):
                raise LinRepError(f"checkpoint: the model has no Conv2d {name!r} (was it changed since?)")
            p = name + "."
            cls = LinRepConvTranspose2d if isinstance(conv, nn.ConvTranspose2d) else LinRepConv2d
            m = cls(conv, self.model[p + "templates"], self.model[p + "idx"], self.model[p + "a"],  # type: ignore[arg-type]
                    self.model[p + "b"], int(lay["codebook"]), str(lay["codebook_dtype"]))
            m.set_ab_bits(int(lay["ab_bits"]), bool(lay["ab_per_channel"]))
            _set_submodule(model, name, m)
        try:
            model.load_state_dict(self.model, strict=True)
        except RuntimeError as exc:
            raise LinRepError(f"checkpoint: the saved state does not fit the model ({str(exc).splitlines()[0]})") from None
        return model.eval(), example

    # --- (de)serialisation ---------------------------------------------------------------------
    def to_bytes(self) -> bytes:
        obj = {"format": FORMAT, "version": VERSION, "source": self.source.to_dict(),
               "settings": settings_to_dict(self.settings), "layers": self.layers,
               "model": {k: v.detach().cpu().clone() for k, v in self.model.items()}, "train": self.train}
        buf = io.BytesIO()
        torch.save(obj, buf)
        return buf.getvalue()

    def save(self, path: str | Path) -> None:
        from linrep_edge.atomic import write_atomic

        write_atomic(path, self.to_bytes())


def settings_to_dict(settings: Any) -> dict[str, Any]:
    d = asdict(settings)
    for k in ("include", "exclude"):
        if d[k] is not None:
            d[k] = list(d[k])
    return d


def settings_from_dict(d: dict[str, Any]) -> Any:
    from linrep_edge.pipeline import PackSettings

    names = {f.name for f in fields(PackSettings)}
    unknown = set(d) - names
    if unknown:
        raise LinRepError(f"checkpoint: settings this version does not know: {', '.join(sorted(unknown))}")
    return PackSettings(**d)


def checkpoint_of(cmodel: nn.Module, source: ModelSource, settings: Any, train: dict[str, Any] | None = None,
                  model_state: dict[str, torch.Tensor] | None = None) -> Checkpoint:
    """A checkpoint of compressed model `cmodel` (its state, or `model_state` if given)."""
    from linrep_edge.method.linrep_conv import LinRepConv2d

    layers = [{"name": n, "codebook": m.codebook, "codebook_dtype": m.codebook_dtype, "ab_bits": m.ab_bits,
               "ab_per_channel": m.ab_per_channel}
              for n, m in cmodel.named_modules() if isinstance(m, LinRepConv2d)]
    if not layers:
        raise LinRepError("model has no LinRep layers (run compress first)")
    state = model_state if model_state is not None else cmodel.state_dict()
    return Checkpoint(source, settings, layers, {k: v.detach().cpu().clone() for k, v in state.items()}, train)


def is_checkpoint_path(path: str | Path) -> bool:
    return str(path).endswith(SUFFIX)


def load_checkpoint(path: str | Path) -> Checkpoint:
    p = Path(path)
    if not p.is_file():
        raise LinRepError(f"{p}: no such file")
    return checkpoint_from_bytes(p.read_bytes(), str(p))


def checkpoint_from_bytes(data: bytes, where: str = "checkpoint") -> Checkpoint:
    try:
        obj = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except Exception as exc:
        raise LinRepError(f"{where}: not a linrep-edge checkpoint ({type(exc).__name__})") from None
    if not isinstance(obj, dict) or obj.get("format") != FORMAT:
        raise LinRepError(f"{where}: not a linrep-edge checkpoint")
    if obj.get("version") != VERSION:
        raise LinRepError(f"{where}: checkpoint version {obj.get('version')} (this linrep-edge reads version {VERSION})")
    return Checkpoint(ModelSource.from_dict(obj["source"]), settings_from_dict(obj["settings"]), obj["layers"],
                      obj["model"], obj["train"])


def file_digest(path: str | Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()
