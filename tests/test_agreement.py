"""Python reader vs C verifier on mutated blobs (Hypothesis): whatever the C runtime accepts, the Python
reader accepts too and the torch model rebuilt from it computes what C computes; whatever the Python
reader refuses, the C runtime refuses. (The C verifier is the stricter of the two: it also checks every
op's parameters and shapes, which Python leaves to the C side and to torch.)
"""

from __future__ import annotations

import zlib

import numpy as np
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from torch import nn

from linrep_edge.capture import capture
from linrep_edge.compress import compress
from linrep_edge.errors import LinRepError
from linrep_edge.execute import GraphModel
from linrep_edge.pack import crc_field_offset, pack_graph
from linrep_edge.reader import parse


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


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(0, 2**32 - 1), st.integers(1, 4))
def test_c_accepts_implies_python_accepts_and_agrees(crt, seed, n_edits):
    rng = np.random.default_rng(seed)  # uniform positions: every field of the blob gets hit
    b = bytearray(BLOB)
    for pos, val in zip(rng.integers(0, len(b), n_edits), rng.integers(0, 256, n_edits)):
        b[int(pos)] = int(val)
    _fix_crc(b)
    blob = bytes(b)
    try:
        rt = crt(blob)
    except LinRepError:
        rt = None
    try:
        g = parse(blob).graph
    except LinRepError:
        g = None
    if g is None:
        assert rt is None, "the Python reader refused a blob that the C runtime accepted"
        return
    if rt is None:
        return
    c = rt.run(X)
    with torch.no_grad():
        ref = GraphModel(g)(torch.from_numpy(X)).numpy()
    assert c.shape == ref.shape
    np.testing.assert_allclose(c, ref, rtol=1e-4, atol=1e-4 * max(1.0, float(np.nanmax(np.abs(ref)))) if np.isfinite(ref).all() else 1e30)
