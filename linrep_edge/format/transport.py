"""The .lre.zst transport container: a zstd frame around the blob, for over-the-air delivery.

The device never sees this format; it stores and reads the plain .lre. Level 19, single-threaded,
no content checksum flags that vary: the same blob always gives the same bytes.
"""

from __future__ import annotations

import zstandard

from linrep_edge.errors import LinRepError

ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"


def is_zstd(data: bytes) -> bool:
    return data[:4] == ZSTD_MAGIC


def zstd(blob: bytes) -> bytes:
    return zstandard.ZstdCompressor(level=19, write_checksum=True, write_content_size=True).compress(blob)


def unzstd(data: bytes, where: str = ".lre.zst") -> bytes:
    try:
        return zstandard.ZstdDecompressor().decompress(data)
    except zstandard.ZstdError as exc:
        raise LinRepError(f"{where}: truncated or corrupt zstd container ({exc})") from None
