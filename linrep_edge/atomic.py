"""Atomic file output: write to a temporary file beside the target, fsync, then rename.

A failure at any point (a full disk, a bad directory, an exception while producing the bytes) leaves
no partial file behind: either the complete new file is there or nothing changed.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from linrep_edge.errors import LinRepError


def write_atomic(path: str | Path, data: bytes) -> None:
    p = Path(path)
    parent = p.parent if str(p.parent) else Path(".")
    if not parent.is_dir():
        raise LinRepError(f"{p}: output directory {parent} does not exist")
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{p.name}.", suffix=".tmp", dir=parent)
    except OSError as exc:
        raise LinRepError(f"{p}: cannot write to {parent} ({exc.strerror})") from None
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, p)
    except OSError as exc:
        _unlink(tmp)
        raise LinRepError(f"{p}: write failed ({exc.strerror or exc})") from None
    except BaseException:
        _unlink(tmp)
        raise


def _unlink(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass
