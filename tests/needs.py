"""One rule for tests that need a part `make test` installs (Debian packages, the peers extra).

`make test` installs every such part when it runs as root with apt; then nothing here fires. Where a part
could not be installed, the test fails under CI (CI=true: a missing install step must not pass as green)
and skips elsewhere, in both cases with the command that installs it.
"""

from __future__ import annotations

import os

import pytest


def need(available: bool, what: str, install: str) -> None:
    """Fail (under CI) or skip (elsewhere) the calling test or module unless `available`."""
    if available:
        return
    message = f"{what} missing: {install}"
    if os.environ.get("CI"):
        pytest.fail(f"CI must install it: {message}", pytrace=False)
    pytest.skip(message, allow_module_level=True)
