"""`linrep-edge compare`: linrep-edge beside what embedded engineers ship today, in one run.

On the embedded default model and the Fashion-MNIST test set, one row per packed model:
  torch fp32 (the reference) · TFLite fp32 · TFLite int8 (full integer, per-channel weights, calibrated
  on training images) · TFLite int8 + TFLM LUT compression (weights clustered per output channel to
  2^bits values, as LUT needs) · linrep-edge at several K (sign-free, global codebook, a/b fine-tuned).
Each row: bytes on flash (the file a board would hold), top-1 accuracy measured by one named engine,
the delta vs torch fp32, host latency per image (median, one thread, every engine that runs the file)
and RAM (TFLM's smallest working arena found by bisection; the C runtime's arena incl. scratch).

Every number is computed in this run; nothing is read from earlier results. Choices: K values are the
issue's; epochs and lr are the ones chosen on the validation split (tools/choose_finetune.py); the
int8 calibration images come from the training split (never validation or test).
"""

from __future__ import annotations

import datetime
import platform
import statistics
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from linrep_edge.bench import peers
from linrep_edge.method.finetune import evaluate
from linrep_edge.models.resnet8 import load_default_model
from linrep_edge.pipeline import PackSettings, finetune_split, pack_model
from linrep_edge.plotting import figure, png_bytes
from linrep_edge.progress import progress
from linrep_edge.runtime.binding import CRuntime

Engine = Callable[[np.ndarray], np.ndarray]


def _accuracy(fn: Engine, x: np.ndarray, y: np.ndarray, desc: str, show: bool) -> float:
    """Top-1 accuracy of an engine run one image at a time (as on a board)."""
    correct = 0
    with progress(total=len(x), desc=desc, enabled=show) as bar:
        for i in range(len(x)):
            correct += int(np.argmax(fn(x[i:i + 1])) == y[i])
            bar.update(1)
    return correct / len(x)


def _latencies(engines: dict[str, Engine], x: np.ndarray, rounds: int) -> dict[str, float]:
    """Median ms per image; engines interleaved round by round so machine drift hits all alike."""
    times: dict[str, list[float]] = {k: [] for k in engines}
    for fn in engines.values():
        fn(x[:1])  # warm up
    for _ in range(rounds):
        for name, fn in engines.items():
            for i in range(len(x)):
                t0 = time.perf_counter()
                fn(x[i:i + 1])
                times[name].append(time.perf_counter() - t0)
    return {k: 1000 * statistics.median(v) for k, v in times.items()}


def run(templates: list[int], epochs: float = 1.0, lr: float = 1e-3, seed: int = 0, lut_bits: int = 4,
        calibration_images: int = 500, test_limit: int | None = None, latency_images: int = 100,
        latency_rounds: int = 3, show_progress: bool = True, int8_templates: list[int] | None = None) -> dict[str, Any]:
    """The comparison table; `int8_templates` adds linrep-edge int8 rows (`pack --activations int8`, 5-bit
    a/b, 4-bit layer3.conv2, the C runtime in integer arithmetic) beside TFLite int8 / TFLite Micro."""
    peers.require()
    torch_threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return _run(templates, epochs, lr, seed, lut_bits, calibration_images, test_limit, latency_images,
                    latency_rounds, show_progress, int8_templates or [])
    finally:
        torch.set_num_threads(torch_threads)


def _run(templates: list[int], epochs: float, lr: float, seed: int, lut_bits: int, calibration_images: int,
         test_limit: int | None, latency_images: int, latency_rounds: int, show: bool,
         int8_templates: list[int]) -> dict[str, Any]:
    model = load_default_model().eval()
    train, _, test = finetune_split("fashion-mnist", seed)
    test = test.take(test_limit)
    x, y = test.x.numpy(), test.y.numpy()
    lat_x = x[:latency_images]
    example = torch.zeros(1, *x.shape[1:])
    calib = train.x[torch.randperm(len(train), generator=torch.Generator().manual_seed(seed))[:calibration_images]]
    rows: list[dict[str, Any]] = []
    timed: list[tuple[dict[str, Any], dict[str, Engine]]] = []

    def add(row: dict[str, Any], engines: dict[str, Engine]) -> None:
        rows.append(row)
        timed.append((row, engines))

    def torch_fn(m: torch.nn.Module) -> Engine:
        return lambda b: m(torch.from_numpy(b)).detach().numpy()

    with torch.no_grad():
        ref_acc = evaluate(model, test.loader(1000))
    fp32_state_bytes = sum(4 * p.numel() for p in model.state_dict().values() if p.is_floating_point())
    add({"name": "torch fp32", "engine": "torch", "bytes": fp32_state_bytes, "accuracy": ref_acc,
         "ram_bytes": None, "notes": "fp32 parameters and BN buffers (state_dict), the reference"},
        {"torch": torch_fn(model)})

    tfl = peers.to_tflite(model, example)
    int8 = peers.quantize_int8(tfl, calib.numpy())
    clustered = peers.cluster_weights(model, lut_bits)
    lut = peers.lut_compress(peers.quantize_int8(peers.to_tflite(clustered, example), calib.numpy()), lut_bits)
    probe = x[:1]
    for name, blob, accuracy_engine, notes in (
            ("TFLite fp32", tfl, "litert", "litert-torch conversion"),
            ("TFLite int8", int8, "litert", f"ai-edge-quantizer static_wi8_ai8, per-channel weights, "
                                            f"{calibration_images} calibration images"),
            (f"TFLite int8 + TFLM LUT {lut_bits}-bit", lut, "tflm",
             f"weights k-means-clustered per output channel to {2 ** lut_bits} values (no retraining), "
             "then int8 and TFLM LUT compression; only TFLM runs it")):
        arena = peers.tflm_min_arena(blob, probe)
        engines: dict[str, Engine] = {}
        if accuracy_engine == "litert":
            engines["litert"] = peers.LiteRT(blob)
        engines["tflm"] = peers.TFLM(blob, arena)
        acc = _accuracy(engines[accuracy_engine], x, y, name, show)
        add({"name": name, "engine": accuracy_engine, "bytes": len(blob), "accuracy": acc, "ram_bytes": arena,
             "ram_engine": "tflm", "notes": notes}, engines)

    for k in templates:
        settings = PackSettings(templates=k, seed=seed, finetune_epochs=epochs, finetune_lr=lr,
                                data="fashion-mnist" if epochs > 0 else None, activations="fp32")
        t0 = time.perf_counter()
        res = pack_model(model, example, settings, source="default", show_progress=show)
        rt = CRuntime(res.blob)
        acc = float((rt.run(x).argmax(1) == y).mean())
        add({"name": f"linrep-edge K={k}", "engine": "linrep-c", "bytes": len(res.blob), "accuracy": acc,
             "ram_bytes": rt.arena_bytes, "ram_engine": "linrep-c", "templates": k, "distance": "signfree",
             "scope": "global", "finetune_epochs": epochs, "pack_seconds": round(time.perf_counter() - t0, 1),
             "notes": f"sign-free global codebook K={k}, fp16 a/b fine-tuned for {epochs:g} epoch, fp16 other "
                      "weights; C runtime, fp32 arithmetic"}, {"linrep-c": rt.run})

    for k in int8_templates:
        settings = PackSettings(templates=k, seed=seed, finetune_epochs=epochs, finetune_lr=lr, data="fashion-mnist",
                                activations="int8", ab_bits=5, layer_ab_bits=["layer3.conv2=4"])
        t0 = time.perf_counter()
        res = pack_model(model, example, settings, source="default", show_progress=show)
        rt = CRuntime(res.blob)
        acc = float((rt.run(x).argmax(1) == y).mean())  # lr_run on an int8 model: integer ops inside
        add({"name": f"linrep-edge int8 K={k}", "engine": "linrep-c", "bytes": len(res.blob), "accuracy": acc,
             "ram_bytes": rt.arena_bytes, "ram_engine": "linrep-c", "templates": k, "activations": "int8",
             "finetune_epochs": epochs, "pack_seconds": round(time.perf_counter() - t0, 1),
             "notes": f"int8 activations, 5-bit a/b (4-bit layer3.conv2), int8-aware fine-tuning for {epochs:g} "
                      "epoch; C runtime, integer arithmetic (lr_run_i8's ops)"}, {"linrep-c": rt.run})

    all_engines = {f"{i}:{e}": fn for i, (_, engines) in enumerate(timed) for e, fn in engines.items()}
    lat = _latencies(all_engines, lat_x, latency_rounds)
    for i, (row, engines) in enumerate(timed):
        row["latency_ms"] = {e: lat[f"{i}:{e}"] for e in engines}
    for row in rows:
        row["accuracy_delta_pt"] = 100 * (row["accuracy"] - ref_acc)
    return {"rows": rows, "bars": _bars(rows), "test_images": len(x), "latency_images": len(lat_x),
            "latency_rounds": latency_rounds, "seed": seed, "finetune_epochs": epochs, "finetune_lr": lr,
            "date": datetime.date.today().isoformat(), "machine": f"{platform.machine()} {platform.system()}",
            "pareto": _pareto(rows)}


def _pareto(rows: list[dict[str, Any]]) -> list[str]:
    """Names of the rows no other row beats on both bytes and accuracy."""
    return [r["name"] for r in rows
            if not any(o["bytes"] <= r["bytes"] and o["accuracy"] >= r["accuracy"]
                       and (o["bytes"] < r["bytes"] or o["accuracy"] > r["accuracy"]) for o in rows)]


def _bars(rows: list[dict[str, Any]]) -> dict[str, Any]:
    by = {r["name"]: r for r in rows}
    int8 = by["TFLite int8"]
    ok = [r for r in rows if r["engine"] == "linrep-c" and r["accuracy_delta_pt"] >= -1.0]
    best = min(ok, key=lambda r: r["bytes"]) if ok else None
    return {
        "int8_delta_pt": int8["accuracy_delta_pt"], "int8_within_1pt": abs(int8["accuracy_delta_pt"]) <= 1.0,
        "linrep_smallest_within_1pt": best["name"] if best else None,
        "linrep_bytes_vs_int8": best["bytes"] / int8["bytes"] if best else None,
        "linrep_half_of_int8": bool(best and best["bytes"] <= 0.5 * int8["bytes"]),
    }


def _latency_text(row: dict[str, Any]) -> str:
    return ", ".join(f"{e} {ms:.2f}" for e, ms in row["latency_ms"].items())


def format_table(res: dict[str, Any]) -> str:
    out = ["| model | bytes on flash | accuracy (engine) | Δ vs torch fp32 | host latency ms/image (engine) | "
           "RAM bytes |",
           "|---|---:|---:|---:|---|---:|"]
    for r in res["rows"]:
        ram = f"{r['ram_bytes']:,} ({r['ram_engine']})" if r["ram_bytes"] is not None else "–"
        mark = " ◆" if r["name"] in res["pareto"] else ""
        out.append(f"| {r['name']}{mark} | {r['bytes']:,} | {100 * r['accuracy']:.2f} % ({r['engine']}) | "
                   f"{r['accuracy_delta_pt']:+.2f} pt | {_latency_text(r)} | {ram} |")
    return "\n".join(out)


def format_result(res: dict[str, Any]) -> str:
    b = res["bars"]
    lines = [f"{res['test_images']:,} test images; latency: median of {res['latency_images']} images x "
             f"{res['latency_rounds']} rounds, one thread, one image per call (◆ = Pareto: no row is smaller and "
             "more accurate)", "", format_table(res), "",
             f"TFLite int8 vs torch fp32: {b['int8_delta_pt']:+.2f} pt (within 1 pt: {b['int8_within_1pt']})"]
    if b["linrep_smallest_within_1pt"]:
        lines.append(f"smallest linrep-edge within 1 pt: {b['linrep_smallest_within_1pt']} = "
                     f"{b['linrep_bytes_vs_int8']:.3f} x the int8 .tflite (<= 0.5: {b['linrep_half_of_int8']})")
    else:
        lines.append("no linrep-edge setting within 1 pt of torch fp32")
    return "\n".join(lines)


def markdown(res: dict[str, Any], command: str) -> str:
    notes = "\n".join(f"- **{r['name']}**: {r['notes']}." for r in res["rows"])
    return f"""# Benchmarks: linrep-edge vs TFLite / TFLite Micro

Written by `{command}` on {res['date']} ({res['machine']}). Every number below was computed in that one
run (regenerate with the same command; `--json` gives the raw rows).

Default model: ResNet-8 (16/32/64) trained on Fashion-MNIST, embedded in the package.

{format_result(res)}

Bytes on flash are the files a board would hold: the `.tflite` flatbuffer, the `.lre` blob; for torch the
fp32 parameters. Accuracy comes from the named engine running the file one image at a time: `litert`
(ai-edge-litert, XNNPACK), `tflm` (TFLite Micro reference kernels, x86 build from PyPI), `linrep-c`
(this project's C runtime, the same code that runs on Cortex-M). RAM is the working memory the engine
asks for: TFLM's smallest arena that initialises and runs (bisection to 16 bytes), the C runtime's
`lr_arena_size` (activations in fp32 + plan + scratch). TFLM holds int8 activations, linrep-edge fp32
ones: expect about 4x the RAM for the same network.

{notes}
"""


def plot(res: dict[str, Any], path: str) -> bytes:
    """PNG: bytes (log) vs accuracy, Pareto front joined."""
    fig, ax = figure((7, 4.5))
    for i, r in enumerate(res["rows"]):
        color = "C0" if r["engine"] == "linrep-c" else "C1" if r["name"].startswith("TFLite") else "C7"
        ax.scatter(r["bytes"], 100 * r["accuracy"], color=color, zorder=3)
        ax.annotate(r["name"], (r["bytes"], 100 * r["accuracy"]), textcoords="offset points", fontsize=8,
                    xytext=(5, 4) if i % 2 else (5, -11), ha="right" if r["bytes"] > 2e5 else "left")
    front = sorted((r for r in res["rows"] if r["name"] in res["pareto"]), key=lambda r: r["bytes"])
    ax.plot([r["bytes"] for r in front], [100 * r["accuracy"] for r in front], "--", color="C2", zorder=2,
            label="Pareto front")
    ax.set_xscale("log")
    ax.set_xlabel("bytes on flash (log scale)")
    ax.set_ylabel(f"top-1 accuracy, {res['test_images']:,} test images (%)")
    ax.set_title("linrep-edge (blue) vs TFLite / TFLM (orange), default ResNet-8")
    ax.grid(True, alpha=0.3)
    ax.legend(loc="lower right")
    return png_bytes(fig, dpi=120)
