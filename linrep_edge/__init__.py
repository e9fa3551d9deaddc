"""linrep-edge: linear representation of conv kernels (a·T[idx] + b) packed for microcontrollers.

The package reads as the pipeline, one folder per stage:

    method/   collect the k×k kernels, cluster them into templates, fit a and b, quantize, fine-tune
    graph/    capture a torch model as the flat op graph the runtime runs; the torch reference executor
    format/   the .lre blob: schema, bit packing, writer, reader, storage report (numpy + flatbuffers only)
    runtime/  the C runtime through ctypes (verify against torch), and the Cortex-M harness under QEMU
    bench/    benchmarks and the peers (TFLite, TFLite Micro)
    cli/      the `linrep-edge` command

The Python API, one entry point per stage (none of these names is also a module of this package):

    cm, rep = linrep_edge.compress(model, templates=16, distance="signfree", scope="global", seed=0)
    linrep_edge.finetune(cm, train_loader, epochs=1)                     # a and b only
    blob = linrep_edge.pack(cm, example, linrep_edge.PackSettings(templates=16, seed=0))
    graph = linrep_edge.parse(blob).graph                                # read it back (no torch)
    y = linrep_edge.CRuntime(blob).run(x)                                # the C runtime, through ctypes

`pack_model(model, example, settings)` does all of it in one call, as `linrep-edge pack` does.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

# public name -> module that defines it (imported on first use: `import linrep_edge` needs no torch)
_EXPORTS = {
    "compress": "method.compress", "Representation": "method.compress", "LinRepConv2d": "method.linrep_conv",
    "finetune": "method.finetune", "evaluate": "method.finetune",
    "capture": "graph.capture", "GraphModel": "graph.executor",
    "pack": "pipeline", "pack_model": "pipeline", "PackSettings": "pipeline", "PackResult": "pipeline",
    "pack_graph": "format.writer", "parse": "format.reader", "read_blob": "format.reader",
    "storage_report": "format.report", "CRuntime": "runtime.binding", "verify": "runtime.verify",
    "load_default_model": "models.resnet8", "LinRepError": "errors",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    """Import on first use, so that `import linrep_edge` stays cheap (no torch until needed)."""
    if name not in _EXPORTS:
        raise AttributeError(f"module 'linrep_edge' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{_EXPORTS[name]}"), name)
    globals()[name] = value  # later look-ups skip this function
    return value
