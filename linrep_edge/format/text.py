"""Text from a blob or a file name, made safe to show.

Op names, the producer string, metadata and file names come from files anyone can write. Printed raw,
an escape sequence in a name repaints the terminal, a right-to-left override reorders the line, and a
non-UTF-8 file name makes `print` raise. `shown` escapes every control, format, surrogate, private-use
and unassigned character as a Python-style escape (`\\x1b`, `\\u202e`; a file name's undecodable byte
0xff, held as the surrogate U+DCFF, shows as `\\xff`) and caps the length, so one line stays one line
and a 1 MB name costs what its first `limit` characters cost. `plot_label` additionally escapes `$`,
so matplotlib never parses a name as mathtext.
"""

from __future__ import annotations

import os
import unicodedata
from typing import Any, Sequence

UNSAFE_CATEGORIES = frozenset(("Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"))


def _escape(ch: str) -> str:
    o = ord(ch)
    if 0xDC80 <= o <= 0xDCFF:  # a byte that was not UTF-8 (os.fsdecode's surrogateescape)
        return f"\\x{o - 0xDC00:02x}"
    if o < 0x100:
        return f"\\x{o:02x}"
    return f"\\u{o:04x}" if o < 0x10000 else f"\\U{o:08x}"


def shown(text: Any, limit: int = 200) -> str:
    """`text` (a str, a path or bytes) with unsafe characters escaped, at most `limit` characters of it."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", "surrogateescape")
    s = os.fspath(text) if isinstance(text, os.PathLike) else str(text)
    more = len(s) - limit
    if more > 0:
        s = s[:limit]
    if not (s.isprintable() and s.isascii()):
        s = "".join(_escape(ch) if unicodedata.category(ch) in UNSAFE_CATEGORIES else ch for ch in s)
    return s + (f"...(+{more} chars)" if more > 0 else "")


def column_names(names: Sequence[str], width: int) -> list[str]:
    """`names` for a table column `width` characters wide, each `shown`: the "/"-separated leading segments every
    non-empty name shares are dropped (a TFLite or ONNX file's "functional_1/", "/model/"), and a name still too
    long keeps its end, after "..", where layer names differ ("..tion_3/Relu", not "functional_1/activatio")."""
    safe = [shown(n, 4 * width + 256) for n in names]
    parts = [n.split("/") for n in safe if n]
    common = 0
    if len(parts) >= 2:
        while all(len(p) > common + 1 and p[common] == parts[0][common] for p in parts):
            common += 1
    cut = [("/".join(n.split("/")[common:]) if n else n) for n in safe]
    return [n if len(n) <= width else ".." + n[len(n) - width + 2:] for n in cut]


def plot_label(text: Any, limit: int = 24) -> str:
    """A name for a plot label: `shown`, shorter, and `$` escaped (no mathtext)."""
    return shown(text, limit).replace("$", r"\$")
