"""Progress bars on stderr for long steps; silent when disabled or when stderr is not a terminal."""

from __future__ import annotations

import sys
from typing import Any

from tqdm import tqdm


def progress(total: int | None = None, desc: str = "", enabled: bool = True, **kw: Any) -> tqdm:
    return tqdm(total=total, desc=desc, disable=not enabled or not sys.stderr.isatty(), leave=False,
                file=sys.stderr, dynamic_ncols=True, **kw)
