"""Atomic file output: write to a temporary file beside the target, fsync, then rename.

A failure at any point (a full disk, a bad directory, an exception while producing the bytes) leaves
no partial file behind: either the complete new file is there or nothing changed.

Outputs only ever replace regular files: a target that is a directory, a FIFO, a socket or a device
(`-o /dev/stdout` as root, a copy of /dev/full) is refused, never replaced by a regular file. A
replaced file keeps its permission bits; a new one gets 0666 minus the umask, as `open` would give.
`check_output` runs the same checks (and proves the directory takes a new file) before any long work,
so `pack -o /read-only/x.lre` fails in a second, not after the compression.
"""

from __future__ import annotations

import os
import stat
import tempfile
from pathlib import Path

from linrep_edge.errors import LinRepError
from linrep_edge.format.text import shown


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _existing_mode(p: Path) -> int | None:
    """Permission bits of the regular file at `p` (following links), None if nothing is there;
    LinRepError for anything that is not a regular file."""
    try:
        st = os.stat(p)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise LinRepError(f"{shown(p)}: cannot use as output ({exc.strerror})") from None
    if stat.S_ISDIR(st.st_mode):
        raise LinRepError(f"{shown(p)}: is a directory; give a file name")
    if not stat.S_ISREG(st.st_mode):
        kind = ("a FIFO" if stat.S_ISFIFO(st.st_mode) else "a character device" if stat.S_ISCHR(st.st_mode)
                else "a block device" if stat.S_ISBLK(st.st_mode) else "a socket" if stat.S_ISSOCK(st.st_mode)
                else "not a regular file")
        raise LinRepError(f"{shown(p)}: is {kind}; outputs only replace regular files")
    return stat.S_IMODE(st.st_mode)


def _parent(p: Path) -> Path:
    parent = p.parent if str(p.parent) else Path(".")
    if not parent.is_dir():
        raise LinRepError(f"{shown(p)}: output directory {shown(parent)} does not exist")
    return parent


def check_output(path: str | Path) -> None:
    """Refuse, before any work, an output that write_atomic would refuse: a non-regular target, a
    missing directory, or one that takes no new file (tried with a temporary file, removed at once)."""
    p = Path(path)
    parent = _parent(p)
    _existing_mode(p)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{p.name}.", suffix=".tmp", dir=parent)
    except OSError as exc:
        raise LinRepError(f"{shown(p)}: cannot write to {shown(parent)} ({exc.strerror})") from None
    os.close(fd)
    _unlink(tmp)


def write_atomic(path: str | Path, data: bytes) -> None:
    p = Path(path)
    parent = _parent(p)
    mode = _existing_mode(p)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{p.name}.", suffix=".tmp", dir=parent)
    except OSError as exc:
        raise LinRepError(f"{shown(p)}: cannot write to {shown(parent)} ({exc.strerror})") from None
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fchmod(f.fileno(), mode if mode is not None else 0o666 & ~_umask())
            os.fsync(f.fileno())
        _existing_mode(p)  # again, just before the rename: still nothing there or a regular file
        os.replace(tmp, p)
    except LinRepError:
        _unlink(tmp)
        raise
    except OSError as exc:
        _unlink(tmp)
        raise LinRepError(f"{shown(p)}: write failed ({exc.strerror or exc})") from None
    except BaseException:
        _unlink(tmp)
        raise


def _unlink(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass
