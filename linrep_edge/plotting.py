"""The one way plots are made: a headless (Agg) matplotlib figure in, PNG bytes out."""

from __future__ import annotations

import io
from typing import Any


def figure(figsize: tuple[float, float]) -> tuple[Any, Any]:
    """(fig, ax) on the Agg backend: no display needed, matplotlib imported only when plotting."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt.subplots(figsize=figsize)


def png_bytes(fig: Any, dpi: int = 100) -> bytes:
    """The figure as PNG bytes (laid out tightly), then closed."""
    import matplotlib.pyplot as plt

    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    plt.close(fig)
    return buf.getvalue()
