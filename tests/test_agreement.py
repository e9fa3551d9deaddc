"""Python reader vs C runtime: one verdict on every blob, and every verified blob reads.

The reader has no verifier of its own: `parse` asks lr_init (format/verifier.py). On mutated blobs
(Hypothesis; CRC re-fixed so that mutations reach the structure and semantic checks) and on every
structure-aware hostile blob of runtime_c/tests/gen_test_blobs.py this holds that the reader refuses
exactly the blobs a CRuntime refuses, with the status the hostile generator planted, and that every
blob lr_init accepts is read by the Python reader without a crash, sized with the same arena, and
rebuilt into a torch model that computes what C computes.
"""

from __future__ import annotations

import importlib.util
import re
import zlib
from pathlib import Path

import numpy as np
import pytest
import torch
from campaign import examples
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from linrep_edge.graph.capture import capture
from linrep_edge.method.compress import compress
from linrep_edge.errors import LinRepError
from linrep_edge.graph.executor import GraphModel
from linrep_edge.format.writer import crc_field_offset, pack_graph
from linrep_edge.format.reader import parse
from linrep_edge.format.verifier import InvalidBlob


def _blob() -> bytes:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(2, 4, 3, padding=1), nn.ReLU(), nn.Conv2d(4, 4, 3, stride=2, groups=2),
                          nn.MaxPool2d(2), nn.Flatten(), nn.Linear(16, 3)).eval()
    cm, _ = compress(model, templates=4, seed=0, show_progress=False)
    return pack_graph(capture(cm, torch.zeros(1, 2, 9, 9)))


BLOB = _blob()
X = np.random.default_rng(0).standard_normal((2, 2, 9, 9)).astype(np.float32)


def _fix_crc(b: bytearray) -> None:
    try:
        off = crc_field_offset(bytes(b))
    except Exception:
        return
    if 0 <= off and off + 4 <= len(b):
        crc = zlib.crc32(bytes(b[:off]) + b"\0\0\0\0" + bytes(b[off + 4:])) & 0xFFFFFFFF
        b[off:off + 4] = crc.to_bytes(4, "little")


def _c_verdict(crt, blob: bytes):  # type: ignore[no-untyped-def]
    """(status name or None, runtime or None) of lr_init on `blob`."""
    try:
        return None, crt(blob)
    except LinRepError as exc:
        m = re.search(r"\((LR_\w+) = -?\d+\)", str(exc))
        assert m, str(exc)
        return m.group(1), None


def _py_verdict(blob: bytes) -> str | None:
    """The reader's verdict: None when it reads the blob (and then it must read it whole)."""
    try:
        parsed = parse(blob)
    except InvalidBlob as exc:
        return exc.status
    assert len(parsed.graph.ops) == len(parsed.check.conv)
    return None


def _mutate(seed: int, n_edits: int, flips: bool) -> bytes:
    rng = np.random.default_rng(seed)  # uniform positions: every field of the blob gets hit
    b = bytearray(BLOB)
    for pos, val in zip(rng.integers(0, len(b), n_edits), rng.integers(0, 256, n_edits)):
        b[int(pos)] = b[int(pos)] ^ (1 << int(val) % 8) if flips else int(val)
    _fix_crc(b)
    return bytes(b)


@settings(max_examples=examples(600))
@given(st.integers(0, 2**32 - 1), st.integers(1, 4), st.booleans())
def test_reader_and_c_give_the_same_verdict(crt, seed, n_edits, flips):
    blob = _mutate(seed, n_edits, flips)
    c_status, rt = _c_verdict(crt, blob)
    assert _py_verdict(blob) == c_status
    if rt is not None:
        assert parse(blob).check.arena_bytes == rt.arena_bytes


def _hostile_cases():  # type: ignore[no-untyped-def]
    path = Path(__file__).resolve().parent.parent / "runtime_c" / "tests" / "gen_test_blobs.py"
    spec = importlib.util.spec_from_file_location("gen_test_blobs", path)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


GEN = _hostile_cases()
# The generator builds every blob (capture, clustering) on each call: once per session here, not once per test.
CASES: dict[str, bytes] = GEN.cases()
HOSTILE = GEN.hostile()


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_blob_refused_with_the_c_status(crt, name):
    graph, status = HOSTILE[name]
    blob = GEN.hostile_bytes(name, graph)
    with pytest.raises(InvalidBlob) as info:
        parse(blob)
    assert info.value.status == status
    assert _c_verdict(crt, blob)[0] == status


@pytest.mark.parametrize("name", sorted(CASES))
def test_valid_blobs_same_arena_as_c(crt, name):
    blob = CASES[name]
    assert parse(blob).check.arena_bytes == crt(blob).arena_bytes


@settings(max_examples=examples(300))
@given(st.integers(0, 2**32 - 1), st.integers(1, 4))
def test_accepted_mutants_compute_the_same_in_c_and_torch(crt, seed, n_edits):
    blob = _mutate(seed, n_edits, flips=False)
    _, rt = _c_verdict(crt, blob)
    if rt is None:
        return
    g = parse(blob).graph
    c = rt.run(X)
    with torch.no_grad():
        ref = GraphModel(g)(torch.from_numpy(X)).numpy()
    assert c.shape == ref.shape
    np.testing.assert_allclose(c, ref, rtol=1e-4, atol=1e-4 * max(1.0, float(np.nanmax(np.abs(ref)))) if np.isfinite(ref).all() else 1e30)


REGRESSIONS = sorted((Path(__file__).resolve().parent.parent / "runtime_c" / "fuzz" / "regressions").glob("*.lre"))


@pytest.mark.parametrize("path", REGRESSIONS, ids=[p.name for p in REGRESSIONS])
def test_fuzz_regressions_refused_alike(crt, path):
    """Every crash a fuzz campaign found, as the harness fed it (CRC re-fixed): both verifiers give the
    same verdict. (`make -C runtime_c fuzz` replays the same files under ASan + UBSan.)"""
    b = bytearray(path.read_bytes())
    _fix_crc(b)
    blob = bytes(b)
    c_status, _ = _c_verdict(crt, blob)
    assert _py_verdict(blob) == c_status
