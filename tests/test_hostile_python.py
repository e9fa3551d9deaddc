"""Issue 20: untrusted files on the Python side. One test (or more) per row of the issue's table; the
hostile files are built here (tests/hostile.py), from real archives and blobs where the row says so.

Bars: no code runs from a data file; the hostile .zst files never take report past 256 MB of peak
memory or 5 s (measured in a subprocess with ru_maxrss and a clock, generous margins); every refusal is
one line on stderr with exit code 2 and no file written.
"""

from __future__ import annotations

import json
import os
import pickle
import stat
import struct
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

import hostile
from linrep_edge.runtime.build_lock import build_lock

ROOT = Path(__file__).resolve().parent.parent
CLI = [sys.executable, "-m", "linrep_edge.cli", "-q"]
# peak memory: VmHWM of the child's own address space (ru_maxrss would inherit pytest's across exec)
MEASURE = ("import re, sys, time\n"
           "from linrep_edge.cli.main import main\n"
           "t = time.perf_counter()\n"
           "rc = main(sys.argv[2:])\n"
           "sys.stdout.flush()\n"
           "hwm = re.search(r'VmHWM:\\s+(\\d+) kB', open('/proc/self/status').read()).group(1)\n"
           "open(sys.argv[1], 'w').write(f'{rc} {time.perf_counter() - t} {hwm}')\n"
           "sys.exit(rc)\n")


def run(*args: str, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=300, **kw)


def one_line_error(r: subprocess.CompletedProcess, *needles: str) -> str:
    assert r.returncode == 2, (r.returncode, r.stdout[-500:], r.stderr[-2000:])
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("linrep-edge: error: "), r.stderr[-2000:]
    assert "Traceback" not in r.stderr
    for n in needles:
        assert n in lines[0], (n, lines[0])
    return lines[0]


def measured(tmp_path: Path, *args: str) -> tuple[int, float, float, subprocess.CompletedProcess]:
    """(exit code, seconds, peak MiB, process) of one CLI run in a fresh interpreter."""
    out = tmp_path / f"measure-{os.getpid()}-{len(list(tmp_path.iterdir()))}.txt"
    r = subprocess.run([sys.executable, "-c", MEASURE, str(out), "-q", *args], capture_output=True, text=True,
                       timeout=300)
    rc, secs, kib = out.read_text().split()
    return int(rc), float(secs), int(kib) / 1024, r


@pytest.fixture(scope="module")
def small_blob() -> bytes:
    from linrep_edge.graph.capture import capture
    from linrep_edge.format.writer import pack_graph

    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 6 * 6, 3)).eval()
    return pack_graph(capture(model, torch.zeros(1, 1, 8, 8)))


def blob_with(model: nn.Module, metadata: dict | None = None, names: dict[str, str] | None = None) -> bytes:
    from linrep_edge.graph.capture import capture
    from linrep_edge.format.writer import pack_graph

    g = capture(model.eval(), torch.zeros(1, 1, 8, 8))
    for op in g.ops:
        if names and op.name in names:
            op.name = names[op.name]
    return pack_graph(g, metadata)


# ---- row 1: a .pt2 whose weight is a pickle that runs code ----------------------------------------------

class _Marker:
    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self):  # unpickling calls open(path, "w"): the marker file is the proof that code ran
        return (open, (self.path, "w"))


def _real_pt2(path: Path) -> None:
    model = nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 6 * 6, 3)).eval()
    torch.export.save(torch.export.export(model, (torch.zeros(1, 1, 8, 8),)), str(path))


def _rewrite(src: Path, dst: Path, change) -> None:  # type: ignore[no-untyped-def]
    """Copy a zip archive entry by entry; change(rel_name, bytes) -> bytes or None (drop), plus extras."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w", zipfile.ZIP_STORED) as zout:
        root = zin.namelist()[0].split("/", 1)[0]
        for info in zin.infolist():
            rel = info.filename.split("/", 1)[1]
            data = change(rel, zin.read(info))
            if data is not None:
                zout.writestr(info.filename, data)
        for rel, data in getattr(change, "extra", {}).items():
            zout.writestr(f"{root}/{rel}", data)


def evil_pt2(tmp_path: Path, kind: str, marker: Path) -> Path:
    real, evil = tmp_path / "real.pt2", tmp_path / f"evil_{kind}.pt2"
    _real_pt2(real)
    payload = pickle.dumps(_Marker(str(marker)))

    def change(rel: str, data: bytes) -> bytes | None:
        if kind == "pickled_weight":
            if rel == "data/weights/model_weights_config.json":
                cfg = json.loads(data)
                cfg["config"]["0.weight"]["use_pickle"] = True
                return json.dumps(cfg).encode()
            if rel == "data/weights/weight_0":
                return payload
        if kind == "sample_inputs" and rel == "data/sample_inputs/model.pt":
            return payload  # torch.load(weights_only=True) refuses it, torch's loader then falls back to pickle
        if kind == "symbolic" and rel == "models/model.json":
            prog = json.loads(data)
            prog["graph_module"]["graph"]["sym_int_values"] = {
                "s0": {"as_expr": {"expr_str": f"__import__('os').system('touch {marker}')", "hint": None}}}
            return json.dumps(prog).encode()
        if kind == "guards" and rel == "models/model.json":
            prog = json.loads(data)
            prog["guards_code"] = [f"__import__('os').system('touch {marker}')"]
            return json.dumps(prog).encode()
        return data

    if kind == "aoti":
        change.extra = {"data/aotinductor/model/model.so": b"\x7fELF"}  # type: ignore[attr-defined]
    if kind == "legacy_weights":
        change.extra = {"data/weights/model.pt": payload}  # type: ignore[attr-defined]
    _rewrite(real, evil, change)
    return evil


@pytest.mark.parametrize("kind", ["pickled_weight", "sample_inputs", "symbolic", "guards", "aoti", "legacy_weights"])
def test_row1_pt2_needing_code_is_refused_and_runs_nothing(tmp_path, kind):
    marker = tmp_path / "marker"
    evil = evil_pt2(tmp_path, kind, marker)
    line = one_line_error(run("pack", str(evil), "--templates", "2", "-o", str(tmp_path / "o.lre")),
                          "refused to load", "--trust-pt2", "run code")
    assert not marker.exists(), line
    assert not (tmp_path / "o.lre").exists()


def test_row1_trust_pt2_is_what_runs_the_pickle(tmp_path):
    """The hostile file is real: with --trust-pt2 (the documented opt-in) torch unpickles it and the
    marker appears; the same file without the flag ran nothing (test above)."""
    marker = tmp_path / "marker"
    evil = evil_pt2(tmp_path, "pickled_weight", marker)
    run("pack", str(evil), "--templates", "2", "--trust-pt2", "-o", str(tmp_path / "o.lre"))
    assert marker.exists()


def test_row1_clean_pt2_still_packs(tmp_path):
    real = tmp_path / "real.pt2"
    _real_pt2(real)
    r = run("pack", str(real), "--templates", "2", "-o", str(tmp_path / "o.lre"))
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "o.lre").stat().st_size > 0


# ---- rows 2-5: bounded reading -------------------------------------------------------------------------

@pytest.fixture(scope="module")
def hostile_zst(tmp_path_factory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("zst")
    files = {"bomb4g": hostile.zero_bomb(4), "claim1t": hostile.tiny_claim(1),
             "pruned8k": hostile.zst(hostile.pruned_linrep(8192)), "pruned16k": hostile.zst(hostile.pruned_linrep(16384)),
             "relu65k": hostile.zst(hostile.relu_chain(65000))}
    paths = {}
    for name, data in files.items():
        paths[name] = d / f"{name}.lre.zst"
        paths[name].write_bytes(data)
    return paths


def test_hostile_files_are_what_they_claim(hostile_zst):
    import zstandard

    assert hostile_zst["bomb4g"].stat().st_size < 200_000
    assert zstandard.get_frame_parameters(hostile_zst["bomb4g"].read_bytes()).content_size == 4 << 30
    assert hostile_zst["claim1t"].stat().st_size == 18
    assert zstandard.get_frame_parameters(hostile_zst["claim1t"].read_bytes()).content_size == 1 << 40
    assert hostile_zst["pruned8k"].stat().st_size < 600 and hostile_zst["pruned16k"].stat().st_size < 1500
    assert hostile_zst["relu65k"].stat().st_size < 200_000


@pytest.mark.parametrize("cmd", ["report", "inspect", "export-c", "verify"])
def test_row2_row3_zstd_bombs_refused_from_the_header(hostile_zst, tmp_path, cmd):
    for name in ("bomb4g", "claim1t"):
        extra = ["-o", str(tmp_path / "m.h")] if cmd == "export-c" else []
        rc, secs, mib, r = measured(tmp_path, cmd, str(hostile_zst[name]), *extra)
        one_line_error(r, f"{name}.lre.zst", "declares", "limit", "--max-size")
        assert secs < 5 and mib < 256, (name, secs, mib)
    assert not (tmp_path / "m.h").exists()


def test_row2_bomb_without_content_size_stops_at_the_cap(tmp_path):
    import zstandard

    cobj = zstandard.ZstdCompressor(level=1, write_content_size=False).compressobj()
    bomb = b"".join(cobj.compress(bytes(1 << 20)) for _ in range(1024)) + cobj.flush()  # 1 GiB, no size
    f = tmp_path / "nosize.lre.zst"
    f.write_bytes(bomb)
    rc, secs, mib, r = measured(tmp_path, "report", str(f))
    one_line_error(r, "inflates to more than the 64 MiB limit")
    assert secs < 5 and mib < 256, (secs, mib)
    assert run("report", str(f), "--max-size", "1M").stderr.count("1 MiB limit") == 1


def test_row2_max_size_raises_the_cap(hostile_zst, tmp_path, small_blob):
    f = tmp_path / "m.lre"
    f.write_bytes(small_blob)
    one_line_error(run("report", str(f), "--max-size", "100"), "limit")
    assert run("report", str(f), "--max-size", "1M").returncode == 0
    one_line_error(run("report", str(f), "--max-size", "lots"), "--max-size")


@pytest.mark.parametrize("name", ["pruned8k", "pruned16k"])
def test_row4_pruned_layers_report_within_budget(hostile_zst, tmp_path, name):
    for cmd in ("report", "inspect"):
        rc, secs, mib, r = measured(tmp_path, cmd, str(hostile_zst[name]), "--json")
        assert rc == 0, r.stderr
        assert secs < 5 and mib < 256, (cmd, secs, mib)
    rep = json.loads(r.stdout if cmd == "report" else run("report", str(hostile_zst[name]), "--json").stdout)
    assert rep["layers"][0]["sparsity"] == 1.0 and rep["layers"][0]["indices_bytes"] == 0


def test_row4_verify_refuses_the_expansion_before_allocating(hostile_zst, tmp_path):
    rc, secs, mib, r = measured(tmp_path, "verify", str(hostile_zst["pruned8k"]))
    one_line_error(r, "reading its weights would take", "--max-size")
    assert mib < 256, mib


def test_row4_bit_unpacking_allocates_per_index_not_per_bit():
    import tracemalloc

    from linrep_edge.format.bitpack import pack_indices, unpack_indices

    n = 2_000_000
    packed = pack_indices(np.arange(n) % 8, 3)
    tracemalloc.start()
    out = unpack_indices(packed, n, 3, np.uint8)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert (out[:16] == np.arange(16) % 8).all()
    assert peak < 60 * n // 3, peak  # per-bit int64 expansion would be 24 bytes per index x 3 bits = 144 MB


def test_row5_many_ops_refused_by_the_runtime_limit_at_once(hostile_zst, tmp_path):
    rc, secs, mib, r = measured(tmp_path, "report", str(hostile_zst["relu65k"]))
    one_line_error(r, "LR_ERR_TOO_MANY")
    assert secs < 5 and mib < 256, (secs, mib)


# ---- rows 6-9: output safe to show and to parse --------------------------------------------------------

def test_row6_escape_sequences_in_names_are_escaped(tmp_path):
    evil = "\x1b[2J\x1b[31mpwned\x07\u202e"
    model = nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 6 * 6, 3))
    f = tmp_path / "esc.lre"
    from linrep_edge.graph.capture import capture

    names = {op.name: evil for op in capture(model.eval(), torch.zeros(1, 1, 8, 8)).ops if op.name}
    f.write_bytes(blob_with(model, names=names))
    for cmd in ("report", "inspect"):
        r = run(cmd, str(f))
        assert r.returncode == 0, r.stderr
        assert "\x1b" not in r.stdout and "\x07" not in r.stdout and "\u202e" not in r.stdout
        assert "\\x07\\u202e" in r.stdout  # shown escaped (report's column keeps a long name's end)
    ops = json.loads(run("inspect", str(f), "--json").stdout)["ops"]
    assert any(o["name"] == evil for o in ops)  # JSON carries the name exactly, escaped by the encoder
    assert "\x1b" not in run("inspect", str(f), "--json").stdout


def test_table_columns_keep_the_part_of_a_name_that_differs():
    """Long op names from imported files ("functional_1/activation_3/Relu") are told apart in report, verify and
    mcu-bench tables: the segments every name shares are dropped, a name still too long keeps its end; each is
    escaped as `shown` escapes, and fits the column."""
    from linrep_edge.format.text import column_names

    tfl = ["", "functional_1/activation/Relu", "functional_1/activation_3/Relu", "functional_1/dense/BiasAdd"]
    assert column_names(tfl, 22) == ["", "activation/Relu", "activation_3/Relu", "dense/BiasAdd"]
    assert column_names(["/model/conv1/Conv", "/model/conv2/Conv"], 22) == ["conv1/Conv", "conv2/Conv"]
    assert column_names(["layer1.conv1", "stem.0"], 22) == ["layer1.conv1", "stem.0"]  # torch names as they are
    assert column_names(["a/b", "a/b"], 22) == ["b", "b"]  # never emptied
    long = column_names(["p/" + "x" * 40 + "_conv7", "q/y"], 22)
    assert long[0] == ".." + ("x" * 40 + "_conv7")[-20:] and all(len(n) <= 22 for n in long)
    evil = column_names(["\x1b[31m" + "n" * 30 + "\u202e"], 22)[0]
    assert "\x1b" not in evil and "\u202e" not in evil and evil.endswith("\\u202e") and len(evil) <= 22


@pytest.mark.parametrize("raw", [b"[" * 200_000, b"1" * 5000, b'{"a": ' + b"9" * 5000 + b"}"])
def test_row7_hostile_metadata_never_a_traceback(tmp_path, raw):
    model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU())
    base = blob_with(model, {"pad": "x" * (len(raw) - 10)})
    f = tmp_path / "meta.lre"
    f.write_bytes(hostile.with_metadata(base, raw))
    from linrep_edge.format.verifier import check_blob

    check_blob(f.read_bytes())  # lr_init accepts it: the runtime never reads metadata
    for args in (["report"], ["inspect"], ["inspect", "--json"], ["report", "--json"],
                 ["export-c", "-o", str(tmp_path / "m.h")]):
        r = run(args[0], str(f), *args[1:])
        assert r.returncode == 0 and "Traceback" not in r.stderr, (args, r.stderr[-500:])
    assert "unreadable_metadata" in json.loads(run("inspect", str(f), "--json").stdout)["metadata"]


def _strict_loads(text: str):  # type: ignore[no-untyped-def]
    def bad(c: str):  # type: ignore[no-untyped-def]
        raise AssertionError(f"not strict JSON: {c}")

    return json.loads(text, parse_constant=bad)


def test_row8_nan_metadata_gives_strict_json_with_a_flag(tmp_path):
    raw = b'{"acc":NaN,"big":Infinity,"ok":1.5,"neg":-Infinity}'
    base = blob_with(nn.Sequential(nn.Conv2d(1, 2, 3)), {"pad": "x" * (len(raw) - 10)})
    f = tmp_path / "nan.lre"
    f.write_bytes(hostile.with_metadata(base, raw))
    for cmd in ("report", "inspect"):
        obj = _strict_loads(run(cmd, str(f), "--json").stdout)
        assert obj["metadata"] == {"acc": None, "big": None, "ok": 1.5, "neg": None}
        assert set(obj["non_finite"]) == {"metadata.acc", "metadata.big", "metadata.neg"}


def test_row8_row13_verify_non_finite_outputs_fail_with_strict_json(tmp_path, small_blob):
    f = tmp_path / "m.lre"
    f.write_bytes(small_blob)
    x = np.full((3, 1, 8, 8), -3e38, np.float32)  # finite inputs whose outputs overflow to inf / nan
    np.save(tmp_path / "x.npy", x)
    r = run("verify", str(f), "--inputs", str(tmp_path / "x.npy"), "--json")
    assert r.returncode == 1, r.stderr
    obj = _strict_loads(r.stdout)
    assert obj["verdict"] == "fail" and obj["max_abs_diff"] is None and obj["non_finite_outputs"]["c"] > 0
    text = run("verify", str(f), "--inputs", str(tmp_path / "x.npy"))
    assert text.returncode == 1 and "FAIL" in text.stdout and "100.00 %" not in text.stdout


def test_row9_plot_labels_escaped_and_plots_capped(tmp_path):
    from linrep_edge.format.report import LayerRow, Report, plot_report

    f = tmp_path / "tex.lre"
    model = nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 6 * 6, 3))
    from linrep_edge.graph.capture import capture

    names = {op.name: "$\\frac{a}{$" + "\x1b" for op in capture(model.eval(), torch.zeros(1, 1, 8, 8)).ops if op.name}
    f.write_bytes(blob_with(model, names=names))
    r = run("report", str(f), "--plot", str(tmp_path / "p.png"))
    assert r.returncode == 0, r.stderr
    # many layers (the runtime allows 127 ops; a Report can hold any number) and 1 MB names
    rows = [LayerRow(("n" * 1_000_000) if i == 0 else f"layer{i}$", "CONV2D", [4, 4, 3, 3], 16, 576 + i, 288, 144)
            for i in range(12_000)]
    import time

    t = time.perf_counter()
    png = plot_report(Report(100, 50, {"overhead": 0}, rows), "p.png")
    assert time.perf_counter() - t < 30
    width, height = struct.unpack(">II", png[16:24])
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and width <= 3000 and height <= 1000, (width, height)


# ---- rows 10-11, 17: writes that cannot hurt -----------------------------------------------------------

def test_row10_outputs_never_replace_fifos_devices_or_directories(tmp_path, small_blob):
    f = tmp_path / "m.lre"
    f.write_bytes(small_blob)
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    dev = tmp_path / "full"
    dev.symlink_to("/dev/full")  # a link to a character device: refusing it is refusing the device
    folder = tmp_path / "folder"
    folder.mkdir()
    for target, what in ((fifo, "FIFO"), (dev, "character device"), (folder, "directory")):
        one_line_error(run("export-c", str(f), "-o", str(target)), what)
        one_line_error(run("report", str(f), "--plot", str(target)), what)
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode) and dev.is_symlink() and folder.is_dir()
    assert stat.S_ISCHR(os.stat("/dev/full").st_mode)


def test_row11_modes_kept_or_from_umask(tmp_path, small_blob):
    f = tmp_path / "m.lre"
    f.write_bytes(small_blob)
    h = tmp_path / "m.h"
    h.write_text("old")
    h.chmod(0o600)
    assert run("export-c", str(f), "-o", str(h)).returncode == 0
    assert stat.S_IMODE(h.stat().st_mode) == 0o600 and "lre_m" in h.read_text()
    new = tmp_path / "new.h"
    r = subprocess.run([*CLI, "export-c", str(f), "-o", str(new)], capture_output=True, text=True,
                       preexec_fn=lambda: os.umask(0o077), timeout=120)
    assert r.returncode == 0, r.stderr
    assert stat.S_IMODE(new.stat().st_mode) == 0o600


def test_row17_pack_checks_the_output_before_any_work(tmp_path, monkeypatch, capsys):
    import linrep_edge.pipeline as pipeline
    from linrep_edge.cli.main import main

    def no_work(*a, **k):  # type: ignore[no-untyped-def]
        raise AssertionError("compression started before the output was checked")

    monkeypatch.setattr(pipeline, "pack_model", no_work)
    folder = tmp_path / "folder"
    folder.mkdir()
    for out in (str(folder), "/proc/x.lre", str(tmp_path / "missing" / "x.lre")):
        assert main(["-q", "pack", "--default", "-o", out]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith("linrep-edge: error:"), err


# ---- row 12 + issue 18 item 1: export-c names ----------------------------------------------------------

@pytest.mark.parametrize("name,why", [("linrep", "belong to the runtime"), ("lr_model", "belong to the runtime"),
                                      ("int", "keyword"), ("3bad-name", "not a C identifier"),
                                      ("__x", "reserved"), ("_Foo", "reserved")])
def test_row12_bad_names_refused_exactly(tmp_path, small_blob, name, why):
    f = tmp_path / "m.lre"
    f.write_bytes(small_blob)
    one_line_error(run("export-c", str(f), "-o", str(tmp_path / "m.h"), "--name", name), why)
    assert not (tmp_path / "m.h").exists()


def test_row12_default_name_and_non_utf8_file_name(tmp_path, small_blob):
    weird = os.path.join(os.fsencode(tmp_path), b"caf\xe9 model.lre")
    with open(weird, "wb") as fh:
        fh.write(small_blob)
    out = tmp_path / "m.h"
    r = subprocess.run([*CLI, "export-c", weird, "-o", str(out), "--json"], capture_output=True, timeout=120)
    assert r.returncode == 0, r.stderr
    summary = json.loads(r.stdout)
    assert summary["identifier"] == "lre_caf_model" and summary["blob_bytes"] == len(small_blob)
    text = out.read_bytes().decode("ascii")  # the header is plain ASCII whatever the file name
    assert "caf\\xe9 model.lre" in text and "lre_caf_model[" in text


def test_issue18_exported_header_compiles_with_linrep_h_and_runs(tmp_path):
    """The README's snippet: linrep.h + the exported header, lr_init / lr_arena_size / lr_run, compiled
    with -Wall -Wextra -Werror -pedantic -std=c99 and run on the host; the same for Cortex-M4 (object)."""
    import shutil

    with build_lock(ROOT / "runtime_c" / "build"):
        subprocess.run(["make", "-s", "-C", str(ROOT / "runtime_c"), "all"], check=True, timeout=600)
    f = tmp_path / "model.lre"
    torch.manual_seed(0)
    f.write_bytes(blob_with(nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 6 * 6, 3))))
    r = run("export-c", str(f), "-o", str(tmp_path / "model_blob.h"), "--json")
    assert r.returncode == 0, r.stderr
    info = json.loads(r.stdout)
    assert info["identifier"] == "lre_model"
    main_c = tmp_path / "main.c"
    main_c.write_text("""#include <stdio.h>
#include "linrep.h"
#include "model_blob.h"

static unsigned char arena[LRE_MODEL_ARENA_SIZE] __attribute__((aligned(16)));
static float input[LRE_MODEL_INPUT_SIZE];
static float output[LRE_MODEL_OUTPUT_SIZE];

int main(void) {
    lr_model m;
    size_t need = 0;
    const int in_shape[] = LRE_MODEL_INPUT_SHAPE;
    if (lr_init(&m, lre_model, LRE_MODEL_SIZE) != LR_OK) return 1;
    if (lr_arena_size(&m, &need) != LR_OK || need != LRE_MODEL_ARENA_SIZE) return 2;
    if (lr_run(&m, arena, sizeof arena, input, LRE_MODEL_INPUT_SIZE, output, LRE_MODEL_OUTPUT_SIZE) != LR_OK) return 3;
    printf("ok %d %u %g\\n", in_shape[0], lre_model_len, (double)output[0]);
    return 0;
}
""")
    inc = ["-I", str(ROOT / "runtime_c" / "include"), "-I", str(tmp_path)]
    flags = ["-Wall", "-Wextra", "-Werror", "-pedantic", "-std=c99"]
    exe = tmp_path / "main"
    cc = subprocess.run(["cc", *flags, *inc, str(main_c), str(ROOT / "runtime_c/build/host/liblinrep.a"), "-lm",
                         "-o", str(exe)], capture_output=True, text=True)
    assert cc.returncode == 0, cc.stderr
    out = subprocess.run([str(exe)], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and out.stdout.startswith("ok 1 "), (out.returncode, out.stdout)
    arm = shutil.which("arm-none-eabi-gcc")
    assert arm, "arm-none-eabi-gcc is part of the test toolchain (make setup installs it)"
    obj = subprocess.run([arm, "-mcpu=cortex-m4", "-mthumb", *flags, *inc, "-c", str(main_c), "-o",
                          str(tmp_path / "main.o")], capture_output=True, text=True)
    assert obj.returncode == 0, obj.stderr


# ---- rows 13-15: verify, no misleading pass ------------------------------------------------------------

@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf, 1e300])
def test_row13_non_finite_inputs_refused(tmp_path, small_blob, value):
    f = tmp_path / "m.lre"
    f.write_bytes(small_blob)
    x = np.zeros((4, 1, 8, 8), np.float64)
    x[2, 0, 3, 3] = value
    np.save(tmp_path / "x.npy", x)
    one_line_error(run("verify", str(f), "--inputs", str(tmp_path / "x.npy")), "not finite", "(2, 0, 3, 3)")


def test_row14_empty_inputs_and_bad_limits(tmp_path, small_blob):
    f = tmp_path / "m.lre"
    f.write_bytes(small_blob)
    np.save(tmp_path / "empty.npy", np.zeros((0, 1, 8, 8), np.float32))
    np.save(tmp_path / "x.npy", np.zeros((3, 1, 8, 8), np.float32))
    one_line_error(run("verify", str(f), "--inputs", str(tmp_path / "empty.npy")), "no inputs")
    for limit in ("0", "-1"):
        one_line_error(run("verify", str(f), "--inputs", str(tmp_path / "x.npy"), "--limit", limit), "--limit")
    ok = run("verify", str(f), "--inputs", str(tmp_path / "x.npy"), "--limit", "2", "--json")
    assert ok.returncode == 0 and json.loads(ok.stdout)["images"] == 2


def test_row15_npy_header_claiming_terabytes(tmp_path, small_blob):
    f = tmp_path / "m.lre"
    f.write_bytes(small_blob)
    (tmp_path / "huge.npy").write_bytes(hostile.huge_npy())
    with pytest.raises(MemoryError):  # the file is what it claims: numpy alone would try to allocate it
        np.load(tmp_path / "huge.npy")
    one_line_error(run("verify", str(f), "--inputs", str(tmp_path / "huge.npy")), "huge.npy", "header claims")


# ---- row 16: a .zst without a content size -------------------------------------------------------------

def test_row16_zst_without_content_size_is_accepted(tmp_path, small_blob):
    f = tmp_path / "pipe.lre.zst"
    f.write_bytes(hostile.zst(small_blob, content_size=False))
    plain = tmp_path / "m.lre"
    plain.write_bytes(small_blob)
    a, b = run("report", str(f), "--json"), run("report", str(plain), "--json")
    assert a.returncode == 0, a.stderr
    assert json.loads(a.stdout) == json.loads(b.stdout)


def test_empty_bias_vector_is_refused_not_read() -> None:
    """Found by `make -C runtime_c fuzz-check`: a bias vector present but empty passed the verifier (its length was
    checked only when non-zero), and the kernels read a present bias as out_ch values, past the end of the blob
    (ASan: heap-buffer-overflow in the fp32 reuse kernel). Now lr_init refuses it, naming the op; the same op with
    its full bias, or none, runs (the crashing input is a fuzz regression seed: runtime_c/fuzz/regressions)."""
    from linrep_edge.errors import LinRepError
    from linrep_edge.runtime.binding import CRuntime

    for bias in (None, 8):
        rt = CRuntime(hostile.pruned_linrep(8, bias=bias))
        y = rt.run(np.ones((1, 8, 1, 1), np.float32))
        assert np.array_equal(y.reshape(-1), np.full(8, 0.0 if bias is None else 1.0, np.float32))
    with pytest.raises(LinRepError, match=r"bad constant.*op 0"):
        CRuntime(hostile.pruned_linrep(8, bias=0))
    # the format layer's check (what inspect / report / verify go through) names the op's type and name too
    from linrep_edge.format.verifier import check_blob

    with pytest.raises(LinRepError, match=r"bad constant \(LR_ERR_BAD_CONSTANT = -16\), op 0 \(LINREP_CONV2D 'l1\.c'\)$"):
        check_blob(hostile.pruned_linrep(8, name="l1.c", bias=0))


def test_refusal_label_reads_a_broken_op_table_safely() -> None:
    """The op label of a refusal is read from a blob lr_init refused: a hostile name is escaped and capped, and
    an op table that cannot be read leaves the bare index (no exception from the label itself)."""
    from linrep_edge.format.verifier import op_label

    assert op_label(hostile.pruned_linrep(4, name="a\x1b[2Jb" + "x" * 500, bias=0), 0).startswith(
        " (LINREP_CONV2D 'a\\x1b[2Jb")
    assert "(+" in op_label(hostile.pruned_linrep(4, name="x" * 500), 0)
    assert op_label(hostile.pruned_linrep(4), 1) == "" and op_label(hostile.pruned_linrep(4), -1) == ""
    assert op_label(b"\x10\x00\x00\x00LRE1" + b"\xff" * 8, 0) == ""
