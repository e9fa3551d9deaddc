"""How every command prints its result: strict JSON with --json, readable text otherwise.

JSON is always strict (RFC 8259): a NaN or an infinity (in a blob's metadata, or a result that went
non-finite) becomes `null`, and the top-level object gains `"non_finite": [paths]` naming each value
that was replaced, so a parser never meets a bare `NaN` and a reader still learns what happened.
"""

from __future__ import annotations

import argparse
import json
import math
from typing import Any, Callable


def strict(obj: Any) -> tuple[Any, list[str]]:
    """`obj` with every non-finite float replaced by None, and the paths of the replaced values."""
    replaced: list[str] = []
    stack_guard = 200  # metadata nests at most this deep in output; deeper parts are cut, not recursed

    def walk(v: Any, path: str, depth: int) -> Any:
        if isinstance(v, float):
            if math.isfinite(v):
                return v
            replaced.append(path or "$")
            return None
        if isinstance(v, dict):
            if depth > stack_guard:
                return "(nested too deep)"
            return {str(k): walk(x, f"{path}.{k}" if path else str(k), depth + 1) for k, x in v.items()}
        if isinstance(v, (list, tuple)):
            if depth > stack_guard:
                return "(nested too deep)"
            return [walk(x, f"{path}[{i}]", depth + 1) for i, x in enumerate(v)]
        if isinstance(v, (str, int, bool)) or v is None:
            return v
        if callable(getattr(v, "tolist", None)):  # numpy scalars and arrays
            return walk(v.tolist(), path, depth)
        try:
            return walk(float(v), path, depth)
        except (TypeError, ValueError):
            return str(v)

    return walk(obj, "", 0), replaced


def to_json(obj: Any) -> str:
    """Strict JSON text of `obj` (see the module docstring)."""
    clean, replaced = strict(obj)
    if replaced and isinstance(clean, dict):
        clean["non_finite"] = replaced
    return json.dumps(clean, indent=2, sort_keys=False, allow_nan=False)


def print_json(obj: Any) -> None:
    print(to_json(obj))


def emit(args: argparse.Namespace, obj: Any, text: Callable[[], str]) -> None:
    """`obj` as JSON when the command was given --json, else `text()` (built only when needed)."""
    if getattr(args, "json", False):
        print_json(obj)
    else:
        print(text())
