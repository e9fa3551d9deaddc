"""TFLite's engines as oracles for an imported int8 model (needs the peers extra: tflite_micro, LiteRT).

`TflmRunner` runs a .tflite in TFLite Micro (reference kernels, the microcontroller reference) and can
return every tensor (kPreserveAllTensors); `LiteRTRefRunner` runs it in LiteRT with its reference kernels
(BUILTIN_REF). Both take and return int8 arrays in our layout ([C, H, W] / [F], no batch), converted
with `to_ours`, so results compare with `run_int8`'s byte for byte.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from linrep_edge.bench.peers import quiet_fds, require
from linrep_edge.models.tflite_import import Imported


def to_tflite_layout(x: np.ndarray, layout: str = "NHWC") -> np.ndarray:
    """Ours ([C, H, W] or [F]) → TFLite's batch of one ([1, H, W, C] or [1, F]; a model input the file
    declares NCHW: [1, C, H, W], as ours; "NCL", a 1-D model's: [1, C, L] of our [C, 1, L])."""
    if layout == "NCL":
        return x.reshape(1, x.shape[0], -1)
    if x.ndim != 3 or layout == "NCHW":
        return x[None]
    return x.transpose(1, 2, 0)[None]


def to_ours(value: np.ndarray, shape: tuple[int, ...], flattened: tuple[int, int, int] | None = None,
            nchw: bool = False) -> np.ndarray:
    """A TFLite tensor (NHWC, batch 1) in our layout `shape`; `flattened` (C, H, W): our tensor is the NCHW
    flatten where TFLite holds the NHWC flatten (a RESHAPE before a FULLY_CONNECTED); nchw: the file gives it as
    [1, C, H, W] (a model output behind a TRANSPOSE [0, 3, 1, 2]), our bytes already."""
    if nchw:
        return value.reshape(shape)
    if len(shape) == 3:
        return value.reshape(shape[1], shape[2], shape[0]).transpose(2, 0, 1)
    if flattened is not None:
        c, h, w = flattened
        return value.reshape(h, w, c).transpose(2, 0, 1).reshape(-1)
    return value.reshape(shape)


def _model_bytes(model: str | Path | bytes) -> bytes:
    return model if isinstance(model, bytes) else Path(model).read_bytes()


class TflmRunner:
    """TFLite Micro's interpreter on a .tflite (one input, results in subgraph output order)."""

    def __init__(self, model: str | Path | bytes, imported: Imported, arena_bytes: int = 1 << 23,
                 all_tensors: bool = False) -> None:
        require(("tflite_micro",), "TFLite Micro's interpreter")  # one error naming the install, not an ImportError
        from tflite_micro.python.tflite_micro import runtime

        cfg = runtime.InterpreterConfig.kPreserveAllTensors if all_tensors else runtime.InterpreterConfig.kAllocationRecording
        with quiet_fds():
            self._ip = runtime.Interpreter.from_bytes(_model_bytes(model), arena_size=arena_bytes, intrepreter_config=cfg)
        self.imp = imported
        g = imported.graph
        self._n_out = len(g.results)

    def __call__(self, x: np.ndarray) -> list[np.ndarray]:
        g = self.imp.graph
        self._ip.set_input(to_tflite_layout(x, self.imp.input_layout), 0)
        self._ip.invoke()
        return [to_ours(self._ip.get_output(k), g.tensors[t].shape, self.imp.flattened.get(t), t in self.imp.nchw_outputs)
                for k, t in enumerate(g.results)]

    def tensors(self) -> dict[int, np.ndarray]:
        """After a call (all_tensors=True): every mapped tensor's value, by IR tensor id."""
        g = self.imp.graph
        out = {}
        for ti, ir in self.imp.tensor_map.items():
            value = self._ip.GetTensor(ti, 0)["tensor_data"]
            out[ir] = to_ours(value, g.tensors[ir].shape, self.imp.flattened.get(ir))
        return out


class LiteRTRefRunner:
    """LiteRT's interpreter with its reference kernels (OpResolverType.BUILTIN_REF; reference=False: its default
    kernels). fp32 files too: float arrays in and out, in our layout."""

    def __init__(self, model: str | Path | bytes, imported: Imported, reference: bool = True) -> None:
        require(("ai_edge_litert",), "LiteRT's reference interpreter")
        from ai_edge_litert.interpreter import Interpreter, OpResolverType

        with quiet_fds():
            kind = OpResolverType.BUILTIN_REF if reference else OpResolverType.AUTO
            self._it = Interpreter(model_content=_model_bytes(model), num_threads=1,
                                   experimental_op_resolver_type=kind)
            self._it.allocate_tensors()
        self._in = self._it.get_input_details()[0]["index"]
        self._outs = [d["index"] for d in self._it.get_output_details()]
        self.imp = imported

    def __call__(self, x: np.ndarray) -> list[np.ndarray]:
        g = self.imp.graph
        self._it.set_tensor(self._in, to_tflite_layout(x, self.imp.input_layout))
        self._it.invoke()
        return [to_ours(self._it.get_tensor(i), g.tensors[t].shape, self.imp.flattened.get(t), t in self.imp.nchw_outputs)
                for i, t in zip(self._outs, g.results)]
