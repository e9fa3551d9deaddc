"""linrep-edge: linear representation of conv kernels (a·T[idx] + b) packed for microcontrollers.

The Python API, one entry point per stage:

    cm, rep = linrep_edge.compress(model, templates=16, distance="signfree", scope="global", seed=0)
    linrep_edge.finetune(cm, train_loader, epochs=1)          # a and b only
    blob = linrep_edge.pack_model(model, example, linrep_edge.PackSettings(templates=16)).blob
    graph = linrep_edge.parse(blob).graph                     # read it back
    linrep_edge.CRuntime(blob).run(x)                         # the C runtime, through ctypes
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

_EXPORTS = {
    "compress": "compress", "Representation": "compress", "LinRepError": "errors",
    "finetune": "finetune", "evaluate": "finetune", "LinRepConv2d": "modules",
    "capture": "capture", "pack_graph": "pack", "parse": "reader", "read_blob": "reader",
    "pack_model": "pipeline", "PackSettings": "pipeline", "storage_report": "report",
    "CRuntime": "runtime", "load_default_model": "models",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    """Import on first use, so that `import linrep_edge` stays cheap (no torch until needed)."""
    if name not in _EXPORTS:
        raise AttributeError(f"module 'linrep_edge' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
