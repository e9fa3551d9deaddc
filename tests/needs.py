"""One rule for tests that need a part `make test` installs (Debian packages, the peers extra).

`make test` installs every such part when it runs as root with apt; then nothing here fires. Where a part
could not be installed, the test fails under CI (CI=true: a missing install step must not pass as green)
and skips elsewhere, in both cases with the command that installs it.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest


def need(available: bool, what: str, install: str) -> None:
    """Fail (under CI) or skip (elsewhere) the calling test or module unless `available`."""
    if available:
        return
    message = f"{what} missing: {install}"
    if os.environ.get("CI"):
        pytest.fail(f"CI must install it: {message}", pytrace=False)
    pytest.skip(message, allow_module_level=True)


MLPERF_TINY = Path(__file__).resolve().parents[1].parent / "shared" / "mlperf-tiny"


def mlperf_model(name: str) -> Path:
    """The MLPerf Tiny file `name`.tflite from ../shared/mlperf-tiny (beside the clone, as in CI)."""
    path = MLPERF_TINY / f"{name}.tflite"
    need(path.exists(), f"the MLPerf Tiny model {path}", "put shared/mlperf-tiny beside the clone (see its README)")
    return path
