"""Python-side fuzz target (issue 20): Hypothesis mutates valid blobs, .zst containers and metadata and
drives them through what a user runs on an untrusted file: the reader (structure-only and full),
`report`, `inspect`, `export-c` and the strict JSON printer. The only exception allowed out is
LinRepError; accepted blobs must give strict JSON and text without control characters.

Mutated blobs get their CRC-32 fixed half of the time, so lr_init looks past the checksum into the
structure. The example counts are fixed (`campaign.examples`) so `make test` stays bounded; `make
test-deep` multiplies them.
"""

from __future__ import annotations

import json

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

import hostile
from campaign import examples
from linrep_edge.cli.output import to_json
from linrep_edge.errors import LinRepError
from linrep_edge.format.export_c import blob_to_c_header
from linrep_edge.format.inspect import describe_blob
from linrep_edge.format.reader import parse
from linrep_edge.format.report import format_report, storage_report
from linrep_edge.format.transport import unzstd, zstd
from linrep_edge.format.writer import blob_crc, crc_field_offset


def _seeds() -> list[bytes]:
    from linrep_edge.format.writer import pack_graph
    from linrep_edge.graph.capture import capture
    from linrep_edge.method.compress import compress

    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(2, 4, 3, padding=1), nn.ReLU(), nn.Conv2d(4, 4, 3), nn.ReLU(), nn.Flatten(),
                        nn.Linear(4 * 4 * 4, 3)).eval()
    cm, _ = compress(net, templates=4, show_progress=False)
    return [pack_graph(capture(cm, torch.zeros(1, 2, 6, 6)), {"k": [1, 2.5, "x"]}), hostile.pruned_linrep(24)]


SEEDS = _seeds()


def _fix_crc(blob: bytearray) -> bytes:
    try:
        off = crc_field_offset(bytes(blob))
    except Exception:  # the root table itself is broken: leave the bytes as they are
        return bytes(blob)
    if 0 <= off <= len(blob) - 4:
        blob[off:off + 4] = blob_crc(blob).to_bytes(4, "little")
    return bytes(blob)


@st.composite
def mutated_blobs(draw) -> bytes:  # type: ignore[no-untyped-def]
    blob = bytearray(SEEDS[draw(st.integers(0, len(SEEDS) - 1))])
    for _ in range(draw(st.integers(1, 6))):
        pos = draw(st.integers(0, len(blob) - 1))
        kind = draw(st.sampled_from(["byte", "flip", "u32"]))
        if kind == "byte":
            blob[pos] = draw(st.integers(0, 255))
        elif kind == "flip":
            blob[pos] ^= 1 << draw(st.integers(0, 7))
        elif pos <= len(blob) - 4:
            blob[pos:pos + 4] = draw(st.sampled_from([0, 1, 0x7FFFFFFF, 0xFFFFFFFF, 0x10000, len(blob)])).to_bytes(4, "little")
    if draw(st.booleans()):
        blob = blob[:draw(st.integers(0, len(blob)))]
    try:
        return _fix_crc(blob) if draw(st.booleans()) else bytes(blob)
    except Exception:
        return bytes(blob)


def _no_control(text: str) -> None:
    assert not any(ord(c) < 32 and c not in "\n" or 0x7F <= ord(c) < 0xA0 for c in text), repr(text[:200])


def _drive(blob: bytes) -> None:
    try:
        parsed = parse(blob, "fuzz", weights=False)
    except LinRepError:
        return
    rep = storage_report(blob, "fuzz", parsed=parsed)
    json.loads(to_json(rep.to_json()), parse_constant=lambda c: pytest.fail(f"non-strict JSON {c}"))
    _no_control(format_report(rep, "fuzz"))
    text, obj = describe_blob(parsed, blob)
    _no_control(text)
    json.loads(to_json(obj), parse_constant=lambda c: pytest.fail(f"non-strict JSON {c}"))
    header = blob_to_c_header(blob, "lre_fuzz", "fuzz.lre", parsed.check.arena_bytes,
                              parsed.graph.tensors[parsed.graph.input].shape,
                              [parsed.graph.tensors[t].shape for t in parsed.graph.results])
    header.encode("ascii")
    try:
        full = parse(blob, "fuzz")
    except LinRepError:
        return
    assert len(full.graph.ops) == len(parsed.graph.ops)


@settings(max_examples=examples(150))
@given(mutated_blobs())
def test_fuzz_reader_report_inspect_export_c(blob):
    _drive(blob)


@settings(max_examples=examples(60))
@given(st.integers(0, len(SEEDS) - 1), st.binary(max_size=64), st.integers(0, 2000), st.booleans())
def test_fuzz_zstd_container(seed, junk, cut, patch):
    data = bytearray(zstd(SEEDS[seed]))
    if patch and len(data) > 6:
        data[4 + cut % (len(data) - 4):4 + cut % (len(data) - 4) + len(junk)] = junk
    else:
        data = data[:max(4, len(data) - cut)] + junk
    try:
        out = unzstd(bytes(data), "fuzz", max_bytes=1 << 20)
    except LinRepError:
        return
    assert len(out) <= 1 << 20
    _drive(out)


@settings(max_examples=examples(80))
@given(st.one_of(st.binary(max_size=300),
                 st.recursive(st.none() | st.booleans() | st.floats() | st.integers() | st.text(max_size=20),
                              lambda c: st.lists(c, max_size=4) | st.dictionaries(st.text(max_size=8), c, max_size=4),
                              max_leaves=30).map(lambda v: json.dumps({"v": v}).encode())))
def test_fuzz_metadata(raw):
    from linrep_edge.format.writer import pack_graph

    raw = raw.ljust(10)
    blob = hostile.with_metadata(pack_graph(METADATA_GRAPH, {"pad": "x" * (len(raw) - 10)}), raw)
    _drive(blob)


METADATA_GRAPH = parse(SEEDS[0]).graph
