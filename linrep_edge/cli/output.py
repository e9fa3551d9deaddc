"""How every command prints its result: strict JSON with --json, readable text otherwise."""

from __future__ import annotations

import argparse
import json
from typing import Any, Callable


def print_json(obj: Any) -> None:
    print(json.dumps(obj, indent=2, sort_keys=False, default=float))


def emit(args: argparse.Namespace, obj: Any, text: Callable[[], str]) -> None:
    """`obj` as JSON when the command was given --json, else `text()` (built only when needed)."""
    if getattr(args, "json", False):
        print_json(obj)
    else:
        print(text())
