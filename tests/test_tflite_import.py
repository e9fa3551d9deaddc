"""`import_tflite` on its own: what it makes of an MLPerf Tiny file (NCHW shapes, TFLite Micro's integers,
op i writing tensor i + 1), fp32 imports in the C runtime, and bad or corrupt files (one LinRepError,
never another exception). The byte-for-byte checks against TFLite Micro are in test_int8_oracle.py."""

from __future__ import annotations

import numpy as np
import pytest

from needs import mlperf_model

from linrep_edge.errors import LinRepError
from linrep_edge.integer.executor import run_int8
from linrep_edge.models.tflite_file import read_tflite
from linrep_edge.models.tflite_import import import_tflite


def test_mlperf_int8_import_shapes_and_integers():
    """What the importer makes of the IC ResNet-8: NCHW shapes, per-channel multipliers in TFLite's range,
    int32 biases, the flatten before the FC."""
    g = import_tflite(mlperf_model("pretrainedResnet_quant"))
    assert g.is_int8 and g.tensors[g.input].shape == (3, 32, 32) and g.tensors[g.output].shape == (10,)
    assert [op.output for op in g.ops] == list(range(1, len(g.ops) + 1))  # op i writes tensor i + 1
    assert [op.type for op in g.ops] == ["CONV2D"] * 3 + ["ADD"] + ["CONV2D"] * 3 + ["ADD"] + ["CONV2D"] * 3 + \
        ["ADD", "AVG_POOL2D", "RESHAPE", "LINEAR", "SOFTMAX"]
    for op in g.ops:
        assert op.iparams is not None
        if op.type == "CONV2D":
            assert op.iparams.multiplier.shape == (op.out_channels,) and op.iparams.bias is not None
            assert ((op.iparams.multiplier >= 1 << 30) & (op.iparams.multiplier < 1 << 31)).all()
            assert g.constants[op.weight].q.shape[0] == op.out_channels
    # stride-2 SAME on 32x32 with a 3x3 kernel: the extra row/column at the bottom/right
    assert g.ops[4].stride == (2, 2) and g.ops[4].pads == (0, 0, 1, 1)
    assert g.ops[-1].iparams.extra is not None and g.ops[-1].iparams.extra[0] < 0  # diff_min


def test_bad_files_and_inputs(tmp_path):
    bad = tmp_path / "x.tflite"
    bad.write_bytes(b"\x00" * 64)
    with pytest.raises(LinRepError, match="not a .tflite file"):
        import_tflite(bad)
    with pytest.raises(LinRepError, match="cannot read"):
        import_tflite(tmp_path / "missing.tflite")
    g = import_tflite(mlperf_model("kws_ref_model"))
    with pytest.raises(LinRepError, match="int8 of shape"):
        run_int8(g, np.zeros(g.tensors[0].shape, np.float32))
    with pytest.raises(LinRepError, match="conv_path"):
        run_int8(g, np.zeros(g.tensors[0].shape, np.int8), conv_path="fast")


def test_mlperf_fp32_import_runs_in_c():
    """The fp32 graph of an imported file packs and runs in the C runtime like GraphModel."""
    import torch

    from linrep_edge.format.writer import pack_graph
    from linrep_edge.graph.executor import GraphModel
    from linrep_edge.runtime.binding import CRuntime

    g = import_tflite(mlperf_model("kws_ref_model_float32"))
    assert [op.output for op in g.ops] == list(range(1, len(g.ops) + 1))  # op i writes tensor i + 1
    x = np.random.default_rng(1).standard_normal((4, *g.tensors[g.input].shape)).astype(np.float32)
    with torch.no_grad():
        ref = GraphModel(g).eval()(torch.from_numpy(x)).numpy()
    blob = pack_graph(g)
    y = CRuntime(blob).run(x)
    assert np.abs(y - ref).max() <= 1e-5 * np.abs(ref).max()
    # a dynamic-range ("hybrid") file: its int8 conv weights stay int8 in the blob with their scales per output
    # channel (what the file holds; the float weights dequantized would make the blob twice the file)
    w8 = [c for c in g.constants if c.dtype == "int8"]
    assert len(w8) == 5 and all(c.q is not None and c.q.dtype == np.int8 and c.scale.shape == (64,) for c in w8)
    tfl = read_tflite(mlperf_model("kws_ref_model_float32"))
    conv_w = [t for t in tfl.tensors if t.type == "INT8"]
    assert sorted(c.q.size for c in w8) == sorted(int(t.data.size) for t in conv_w)
    assert len(blob) < mlperf_model("kws_ref_model_float32").stat().st_size


def test_corrupt_files_raise_linrep_error_only():
    """Random byte changes (mostly in the flatbuffer's tables, some anywhere): the import succeeds (and the
    graph runs) or raises LinRepError, nothing else."""
    buf = mlperf_model("kws_ref_model").read_bytes()
    rng = np.random.default_rng(0)
    refused = 0
    for _ in range(300):
        b = bytearray(buf)
        for _ in range(int(rng.integers(1, 4))):
            i = int(rng.integers(0, 4096)) if rng.random() < 0.7 else int(rng.integers(0, len(b)))
            b[i] = int(rng.integers(0, 256))
        try:
            g = import_tflite(bytes(b))
            if max(t.numel for t in g.tensors) < 1 << 20:  # a changed shape may ask for a huge tensor
                run_int8(g, np.zeros(g.tensors[g.input].shape, np.int8))
        except LinRepError:
            refused += 1
    assert refused > 10


def _weights_after_the_flatbuffer(buf: bytes) -> bytes:
    """The same model with every constant's bytes moved out of the flatbuffer, as ai-edge-quantizer writes larger
    files: each buffer's `offset` (from the file's start, 16-byte aligned) and `size`, the bytes appended after
    the flatbuffer. Written with TFLite Micro's schema object API: the reader is not its own reference."""
    import flatbuffers
    from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as tfl

    model = tfl.ModelT.InitFromPackedBuf(buf, 0)
    moved = [(b, bytes(np.asarray(b.data, np.uint8))) for b in model.buffers if b.data is not None and len(b.data)]

    def pack() -> bytes:
        fb = flatbuffers.Builder(1024)
        fb.Finish(model.Pack(fb), file_identifier=b"TFL3")
        return bytes(fb.Output())

    for b, _ in moved:
        b.data, b.offset, b.size = None, 2, 0  # placeholders of the final width: the packed size stays
    for b, raw in moved:
        b.size = len(raw)
    head = pack()
    pos, tail = (len(head) + 15) // 16 * 16, b""
    for b, raw in moved:
        b.offset = pos + len(tail)
        tail += raw + b"\0" * (-len(raw) % 16)
    out = pack()
    assert len(out) == len(head)
    return out + b"\0" * (pos - len(out)) + tail


def test_constants_after_the_flatbuffer_read_as_inside():
    """Buffers with offset / size (the layout of ai-edge-quantizer's larger files, e.g. MobileNetV2's): the same
    graph, constants and answers as the file with the bytes inside; an offset past the end is refused."""
    buf = mlperf_model("kws_ref_model").read_bytes()
    moved = _weights_after_the_flatbuffer(buf)
    import tflite

    m = tflite.Model.GetRootAsModel(moved, 0)
    assert sum(m.Buffers(i).Offset() > 1 for i in range(m.BuffersLength())) >= 5
    a, b = import_tflite(buf), import_tflite(moved)
    assert [op.type for op in a.ops] == [op.type for op in b.ops]
    for ca, cb in zip(a.constants, b.constants):
        assert np.array_equal(np.asarray(ca.q if ca.q is not None else ca.values),
                              np.asarray(cb.q if cb.q is not None else cb.values))
    x = np.random.default_rng(0).integers(-128, 128, a.tensors[a.input].shape).astype(np.int8)
    assert np.array_equal(run_int8(a, x)[0], run_int8(b, x)[0])
    with pytest.raises(LinRepError, match="run past the file's end"):
        import_tflite(moved[:len(moved) - 100])
