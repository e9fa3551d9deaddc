"""The .lre.zst transport container: a zstd frame around the blob, for over-the-air delivery.

The device never sees this format; it stores and reads the plain .lre. Level 19, single-threaded,
no content checksum flags that vary: the same blob always gives the same bytes.

Reading is bounded before it allocates (a .zst can claim or inflate to any size: 131 KB of zstd
inflate to 4 GiB). `unzstd` refuses a frame whose header declares more than `max_bytes`, and
decompresses streaming with a read limit of `max_bytes + 1`, so a frame without a content size (what
a `zstd` pipe writes) is accepted and one that inflates past the cap is refused after at most
`max_bytes + 1` bytes. The decoder's window is capped too (`max_window_size`), so a header that asks
for a huge window is refused instead of allocated.
"""

from __future__ import annotations

import zstandard

from linrep_edge.errors import LinRepError

ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
DEFAULT_MAX_BYTES = 64 << 20  # 64 MiB: far above any MCU model; `--max-size` raises it
INPUT_STEP = 512  # compressed bytes per step: at most ~16 MiB of output each (RLE blocks)
MAX_WINDOW_BYTES = 1 << 27  # zstd's own default limit (windowLog 27); a window never needs more than the cap


def is_zstd(data: bytes) -> bool:
    return data[:4] == ZSTD_MAGIC


def zstd(blob: bytes) -> bytes:
    return zstandard.ZstdCompressor(level=19, write_checksum=True, write_content_size=True).compress(blob)


def format_size(n: int) -> str:
    for unit, shift in (("GiB", 30), ("MiB", 20), ("KiB", 10)):
        if n >= 1 << shift:
            return f"{n / (1 << shift):.4g} {unit}"
    return f"{n} bytes"


def unzstd(data: bytes, where: str = ".lre.zst", max_bytes: int = DEFAULT_MAX_BYTES) -> bytes:
    """The decompressed bytes of one zstd frame, at most `max_bytes` of them; LinRepError otherwise."""
    try:
        params = zstandard.get_frame_parameters(data)
    except zstandard.ZstdError as exc:
        raise LinRepError(f"{where}: truncated or corrupt zstd container ({exc})") from None
    declared = params.content_size
    if declared != zstandard.CONTENTSIZE_UNKNOWN and declared > max_bytes:
        raise LinRepError(f"{where}: the zstd header declares {format_size(declared)} of content, more than the "
                          f"{format_size(max_bytes)} limit (raise it with --max-size if the file is trusted)")
    window = min(MAX_WINDOW_BYTES, max(1 << 20, 1 << (max(max_bytes, 1) - 1).bit_length()))
    if params.window_size > window:
        raise LinRepError(f"{where}: the zstd header asks for a {format_size(params.window_size)} window, more "
                          f"than the {format_size(window)} this reader allows")
    dobj = zstandard.ZstdDecompressor(max_window_size=window).decompressobj()
    out = bytearray()
    end = 0
    try:
        for i in range(0, len(data), INPUT_STEP):
            end = i + INPUT_STEP  # small input steps: no single output of untrusted size
            out += dobj.decompress(data[i:i + INPUT_STEP])
            if len(out) > max_bytes or dobj.eof:
                break
    except zstandard.ZstdError as exc:
        raise LinRepError(f"{where}: truncated or corrupt zstd container ({exc})") from None
    if len(out) > max_bytes:
        raise LinRepError(f"{where}: inflates to more than the {format_size(max_bytes)} limit (raise it with "
                          "--max-size if the file is trusted)")
    if not dobj.eof:
        raise LinRepError(f"{where}: truncated or corrupt zstd container (the frame ends early)")
    if dobj.unused_data or end < len(data):
        raise LinRepError(f"{where}: corrupt zstd container (data after the end of the frame)")
    if declared != zstandard.CONTENTSIZE_UNKNOWN and len(out) != declared:
        raise LinRepError(f"{where}: truncated or corrupt zstd container ({len(out)} bytes decompressed, the header "
                          f"declares {declared})")
    return bytes(out)

