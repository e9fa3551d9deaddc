"""Firmware export: a .lre blob as a C99 header holding a 16-byte-aligned `const unsigned char` array.

The header is meant to sit beside `linrep.h` in a firmware tree, so its names must not collide with
the runtime's: the array's identifier is checked (`check_identifier`), never silently rewritten, and
the default is derived from the blob's file name with the prefix `lre_` (`default_identifier`:
`model.lre` → `lre_model`; the runtime owns `lr_*`, `LR_*` and `LINREP_*`). Besides the array (const:
it stays in flash) and `<name>_len`, the header defines, with NAME the identifier in capitals:

    NAME_SIZE          bytes of the blob
    NAME_ARENA_SIZE    bytes lr_arena_size asks for (automatic conv path)
    NAME_INPUT_SHAPE   {C, H, W} or {F}: lr_input_shape; NAME_INPUT_SIZE its element count
    NAME_OUTPUT_SHAPE  likewise for the (first) output: lr_output_shape
    NAME_OUTPUT_SIZE   the elements of every output: the length of the buffer lr_run fills (lr_output_size)
    NAME_OUTPUT_COUNT  how many outputs (lr_output_count); with more than one, for each output k from 0:
    NAME_OUTPUTk_SHAPE, NAME_OUTPUTk_RANK, NAME_OUTPUTk_SIZE and NAME_OUTPUTk_OFFSET (where it starts in
                       that buffer: lr_run writes the outputs one after the other, in order)

and includes nothing, so it compiles under `-std=c99 -pedantic` on any target.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from linrep_edge.errors import LinRepError
from linrep_edge.format.text import shown

C_KEYWORDS = frozenset((
    "auto break case char const continue default do double else enum extern float for goto if inline int long "
    "register restrict return short signed sizeof static struct switch typedef union unsigned void volatile while "
    "_Alignas _Alignof _Atomic _Bool _Complex _Generic _Imaginary _Noreturn _Static_assert _Thread_local "
    # C23 and common macros of the standard headers: as identifiers they break some build
    "alignas alignof bool constexpr false nullptr static_assert thread_local true typeof typeof_unqual "
    "asm fortran main errno NULL EOF assert offsetof").split())
RUNTIME_PREFIXES = ("lr_", "LR_", "linrep", "LINREP")
IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
MAX_IDENT = 63  # C99 guarantees 63 significant initial characters of an internal identifier


@dataclass(frozen=True)
class HeaderInfo:
    """What the header defines, for the command's summary."""

    identifier: str
    macro_prefix: str
    blob_bytes: int
    arena_bytes: int
    input_shape: tuple[int, ...]
    output_shape: tuple[int, ...]


def check_identifier(name: str) -> str:
    """`name` if it is a usable C identifier for the array, else LinRepError saying why."""
    if not IDENT.match(name):
        raise LinRepError(f"--name {shown(name, 80)!r}: not a C identifier (letters, digits and _, not starting "
                          "with a digit)")
    if len(name) > MAX_IDENT:
        raise LinRepError(f"--name: {len(name)} characters; C99 guarantees only {MAX_IDENT} significant ones")
    if name in C_KEYWORDS:
        raise LinRepError(f"--name {name!r}: a C keyword or standard name; choose another")
    if name.startswith(RUNTIME_PREFIXES) or name.upper().startswith(("LR_", "LINREP")):
        raise LinRepError(f"--name {name!r}: lr_, LR_ and linrep names belong to the runtime (linrep.h); "
                          "choose another, e.g. lre_model")
    if name.startswith("__") or re.match(r"_[A-Z]", name):
        raise LinRepError(f"--name {name!r}: identifiers starting with __ or _ and a capital are reserved in C")
    return name


def default_identifier(file_name: str) -> str:
    """`lre_` + the file name without its .lre / .lre.zst / .zst suffix, non-identifier characters as _."""
    stem = file_name
    for suffix in (".zst", ".lre"):
        stem = stem.removesuffix(suffix)
    body = re.sub(r"[^A-Za-z0-9_]+", "_", stem).strip("_").lower()
    ident = f"lre_{body}" if body else "lre_model"
    return check_identifier(ident[:MAX_IDENT])


def _shape_init(shape: tuple[int, ...]) -> str:
    return "{" + ", ".join(str(int(d)) for d in shape) + "}"


def blob_to_c_header(blob: bytes, name: str, source: str = "", arena_bytes: int = 0,
                     input_shape: tuple[int, ...] = (), output_shapes: Sequence[tuple[int, ...]] = ((),)) -> str:
    """C99 header text for `blob` (see the module docstring); `name` must pass check_identifier; `output_shapes`
    one shape per output, in order (one shape of ints alone is taken as the only output's)."""
    if not output_shapes:
        output_shapes = ((),)
    elif all(isinstance(d, int) for d in output_shapes):
        output_shapes = (tuple(output_shapes),)  # type: ignore[arg-type]
    ident = check_identifier(name)
    macro = ident.upper()
    guard = f"{macro}_BLOB_H_"
    src = shown(source, 120).replace("*/", "*\\/")

    def numel(shape: tuple[int, ...]) -> int:
        n = 1
        for d in shape:
            n *= int(d)
        return n

    lines = [
        f"/* Generated by `linrep-edge export-c`{' from ' + src if src else ''}; do not edit. */",
        f"/* {len(blob)} bytes: a .lre blob, read in place by the linrep-edge C runtime (include linrep.h). */",
        f"#ifndef {guard}",
        f"#define {guard}",
        "",
        f"#define {macro}_SIZE {len(blob)}u",
        f"#define {macro}_ARENA_SIZE {arena_bytes}u /* lr_arena_size, automatic conv path */",
        f"#define {macro}_INPUT_SHAPE {_shape_init(input_shape)}",
        f"#define {macro}_INPUT_RANK {len(input_shape)}u",
        f"#define {macro}_INPUT_SIZE {numel(input_shape)}u",
        f"#define {macro}_OUTPUT_SHAPE {_shape_init(output_shapes[0])}",
        f"#define {macro}_OUTPUT_RANK {len(output_shapes[0])}u",
        f"#define {macro}_OUTPUT_SIZE {sum(numel(s) for s in output_shapes)}u"
        + (" /* every output, one after the other */" if len(output_shapes) > 1 else ""),
        f"#define {macro}_OUTPUT_COUNT {len(output_shapes)}u",
    ]
    at = 0
    for k, shape in enumerate(output_shapes if len(output_shapes) > 1 else ()):
        lines += [f"#define {macro}_OUTPUT{k}_SHAPE {_shape_init(shape)}", f"#define {macro}_OUTPUT{k}_RANK {len(shape)}u",
                  f"#define {macro}_OUTPUT{k}_SIZE {numel(shape)}u", f"#define {macro}_OUTPUT{k}_OFFSET {at}u"]
        at += numel(shape)
    lines += [
        "",
        "#if defined(__GNUC__) || defined(__clang__)",
        f"#define {macro}_ALIGN __attribute__((aligned(16)))",
        "#else",
        f"#define {macro}_ALIGN",
        "#endif",
        "",
        f"static const unsigned int {ident}_len = {len(blob)}u;",
        f"static const unsigned char {ident}[{max(len(blob), 1)}] {macro}_ALIGN = {{",
    ]
    view = memoryview(blob)
    lines += [f"  0x{view[i:i + 16].hex(' ').replace(' ', ', 0x')}," for i in range(0, len(blob), 16)]
    lines += ["};", "", f"#endif /* {guard} */", ""]
    return "\n".join(lines)


def plan_to_c(plan: Sequence[int], name: str) -> str:
    """An offline memory plan (lr_plan_export's uint32 words, linrep.h's layout) as C99 text: `NAME_WORDS` and
    `static const uint32_t name[]`, for lr_set_plan in a build with -DLR_PLANNER=0 (`name` must pass
    check_identifier)."""
    ident = check_identifier(name)
    words = [int(w) for w in plan]
    if len(words) < 5 or words[0] != 0x4C50524C:
        raise LinRepError(f"{ident}: not an offline plan (lr_plan_export's words)")
    lines = [f"/* The offline memory plan (lr_set_plan, -DLR_PLANNER=0): {len(words)} words, an arena of "
             f"{words[4]} B. */",
             f"#define {ident.upper()}_WORDS {len(words)}u",
             f"static const uint32_t {ident}[{len(words)}] = {{"]
    for i in range(0, len(words), 8):
        lines.append("  " + ", ".join(f"0x{w:08X}u" for w in words[i:i + 8]) + ",")
    lines += ["};", ""]
    return "\n".join(lines)
