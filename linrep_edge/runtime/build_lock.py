"""One build at a time in a shared build folder, across processes.

`make` is not safe when two processes build the same folder at once (two test workers, two users' shells
on one checkout): the second can link half-written objects. `build_lock(folder)` holds an exclusive
`flock` on `folder/.build.lock` for the duration of a build; a process that finds it held waits. The
lock is advisory and released when the process exits, even on a crash. POSIX only; elsewhere (no
`fcntl`) it is a no-op, as is a folder that cannot be created.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def build_lock(folder: Path) -> Iterator[None]:
    """Hold the exclusive build lock of `folder` (created if missing) inside the `with` block."""
    try:
        import fcntl
    except ImportError:  # not POSIX
        yield
        return
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd = os.open(folder / ".build.lock", os.O_RDWR | os.O_CREAT, 0o644)
    except OSError:  # a read-only checkout: nothing can be built there anyway
        yield
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock
