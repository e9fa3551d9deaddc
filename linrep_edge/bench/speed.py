"""`linrep-edge bench speed`: bytes vs accuracy vs speed of the direct and template-reuse paths.

For a few codebook settings of the default model (one global K = 16 codebook; per-layer codebooks with
K = max(2, round(ratio * Cout))), in one run: compress, fine-tune a and b as `pack` does (one epoch,
Adam lr 1e-3, cosine decay, the 5k validation images held out; nothing is chosen on the test set),
pack, then measure
- C-runtime accuracy on the full 10k test set (the runtime's default, automatic path choice), and
  the largest relative difference of the logits between the direct and the reuse paths;
- per LinRep layer, the relative difference of reuse vs direct on a one-op graph with the layer's own
  weights (inputs |N(0, 1)|, like post-ReLU activations): max |reuse - direct| / max |direct|;
- Cortex-M4F instructions (QEMU plugin) for dense fp32, LinRep direct, LinRep reuse and the automatic
  choice, whole network and per layer, and whether the cost model's choice is the measured faster path;
- host latency (median per inference, 1 thread) of the same four runs.
"""

from __future__ import annotations

import copy
import statistics
import time
from typing import Any

import numpy as np
import torch

from linrep_edge.graph.densify import densify
from linrep_edge.method.finetune import evaluate
from linrep_edge.format.ir import Graph
from linrep_edge.models.loading import load_default
from linrep_edge.format.writer import pack_graph
from linrep_edge.pipeline import PackSettings, finetune_split, pack_model
from linrep_edge.plotting import figure, png_bytes
from linrep_edge.format.reader import parse
from linrep_edge.format.report import storage_report
from linrep_edge.runtime.binding import CRuntime

SETTINGS = {  # name -> PackSettings keyword arguments
    "global-K16": dict(templates=16, scope="global"),
    "layer-Cout/4": dict(scope="layer", templates_ratio=0.25),
    "layer-Cout/8": dict(scope="layer", templates_ratio=0.125),
}


def _single_op_graph(g: Graph, k: int) -> Graph:
    """Op k of g alone, with its own weights (input tensor 0, output tensor 1)."""
    op = copy.deepcopy(g.ops[k])
    one = Graph(tensors=[], input=-1, output=-1, ops=[])
    one.input = one.add_tensor(g.tensors[op.inputs[0]].shape, "x")
    one.output = one.add_tensor(g.tensors[op.output].shape, "y")
    if op.bias >= 0:
        op.bias = one.add_constant(g.constants[op.bias].values, g.constants[op.bias].dtype)
    if op.linrep is not None:
        one.codebooks.append(copy.deepcopy(g.codebooks[op.linrep.codebook]))
        op.linrep.codebook = 0
    op.inputs, op.output, op.activation = [one.input], one.output, "NONE"
    one.ops.append(op)
    return one


def _rel(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a - b).max() / max(float(np.abs(b).max()), 1e-30))


def layer_agreement(g: Graph, images: int = 4, seed: int = 0) -> dict[str, float]:
    """Per LinRep conv: max |reuse - direct| / max |direct| on a one-op graph with its weights."""
    out = {}
    rng = np.random.default_rng(seed)
    for k, op in enumerate(g.ops):
        if op.type != "LINREP_CONV2D":
            continue
        blob = pack_graph(_single_op_graph(g, k))
        x = np.abs(rng.standard_normal((images, *g.tensors[op.inputs[0]].shape))).astype(np.float32)
        out[op.name] = _rel(CRuntime(blob, conv_path="reuse").run(x), CRuntime(blob, conv_path="direct").run(x))
    return out


def _latency(runs: dict[str, CRuntime], x: np.ndarray, rounds: int) -> dict[str, float]:
    """Median ms per inference of each runtime, interleaved so load drifts hit all alike."""
    times: dict[str, list[float]] = {k: [] for k in runs}
    for rt in runs.values():
        rt.run(x[:2])
    for _ in range(rounds):
        for name, rt in runs.items():
            for i in range(len(x)):
                t0 = time.perf_counter()
                rt.run(x[i:i + 1])
                times[name].append(time.perf_counter() - t0)
    return {k: 1000 * statistics.median(v) for k, v in times.items()}


def _layer_latency(rt: CRuntime, x: np.ndarray) -> list[float]:
    """Median ms per op over the images (time between lr_run_hooked's calls; ops with a name only)."""
    per_op: list[list[float]] = [[] for _ in range(rt.num_ops)]
    for i in range(len(x)):
        stamps: list[float] = []
        t0 = time.perf_counter()
        rt.run(x[i:i + 1], hook=lambda k: stamps.append(time.perf_counter()))
        prev = t0
        for k, t in enumerate(stamps):
            per_op[k].append(t - prev)
            prev = t
    return [1000 * statistics.median(v) for v in per_op]


def run_setting(name: str, kwargs: dict[str, Any], epochs: float, lr: float, seed: int, test, mcu: bool,
                latency_images: int, rounds: int, show_progress: bool) -> dict[str, Any]:
    from linrep_edge.runtime.mcu import mcu_bench

    settings = PackSettings(seed=seed, finetune_epochs=epochs, finetune_lr=lr, data="fashion-mnist",
                            **{"activations": "fp32", **kwargs})  # the fp32 runtime's rows
    t0 = time.perf_counter()
    res = pack_model(*load_default(), settings, "default", show_progress=show_progress)
    _, val, _ = finetune_split("fashion-mnist", seed)
    blob = res.blob
    g = parse(blob).graph
    rep = storage_report(blob, parsed=parse(blob))
    x, y = test.x.numpy(), test.y.numpy()
    rt = {p: CRuntime(blob, conv_path=p) for p in ("auto", "direct", "reuse")}
    out_auto = rt["auto"].run(x)
    out_direct = rt["direct"].run(x)
    out_reuse = rt["reuse"].run(x)
    row: dict[str, Any] = {
        "setting": name, "settings": settings.metadata(),
        "templates_per_layer": {r.name: r.templates for r in rep.layers if r.templates},
        "blob_bytes": len(blob), "conv_compression_vs_fp32": rep.conv_compression_vs_fp32,
        "val_accuracy": evaluate(res.model, val.loader(1000)),
        "c_accuracy": float((out_auto.reshape(len(x), -1).argmax(1) == y).mean()),
        "c_accuracy_direct": float((out_direct.reshape(len(x), -1).argmax(1) == y).mean()),
        "c_accuracy_reuse": float((out_reuse.reshape(len(x), -1).argmax(1) == y).mean()),
        "logits_rel_diff_reuse_vs_direct": _rel(out_reuse, out_direct),
        "layer_rel_diff_reuse_vs_direct": layer_agreement(g),
        "arena_bytes": {p: r.arena_bytes for p, r in rt.items()},
        "model_paths": {r.name: r.path for r in rep.layers if r.path},
    }
    dense_rt = CRuntime(pack_graph(densify(g)))
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        lat = _latency({"dense": dense_rt, **rt}, x[:latency_images], rounds)
        layer_ms = {p: _layer_latency(r, x[:latency_images]) for p, r in
                    (("dense", dense_rt), ("direct", rt["direct"]), ("reuse", rt["reuse"]))}
    finally:
        torch.set_num_threads(threads)
    row["host_ms"] = lat
    row["host_layer_ms"] = [{"op": k, "name": op.name, **{p: round(v[k], 4) for p, v in layer_ms.items()}}
                            for k, op in enumerate(g.ops) if op.type in ("CONV2D", "LINREP_CONV2D")]
    if mcu:
        m4 = mcu_bench(blob, "cortex-m4", x=x[0])
        layers = []
        for L in m4["layers"]:
            if L["path"] == "-" or "model" not in L:
                continue
            faster = "reuse" if L["reuse_instructions"] < L["direct_instructions"] else "direct"
            layers.append({"op": L["op"], "name": L["name"], "model_path": L["path"], "measured_faster": faster,
                           "match": L["path"] == faster, "dense_instructions": L["dense_instructions"],
                           "direct_instructions": L["direct_instructions"],
                           "reuse_instructions": L["reuse_instructions"], "model": L["model"]})
        row["m4"] = {"dense_instructions": m4["dense_instructions"], "direct_instructions": m4["direct_instructions"],
                     "reuse_instructions": m4["reuse_instructions"], "auto_instructions": m4["instructions"],
                     "reuse_vs_dense": m4["reuse_instructions"] / m4["dense_instructions"],
                     "auto_vs_dense": m4["instructions"] / m4["dense_instructions"],
                     "matches_host": bool(m4["matches_host"] and m4["direct_matches_host"]
                                          and m4["reuse_matches_host"]),
                     "ram_bytes": m4["ram_bytes"], "runtime_code_bytes": m4["runtime_code_bytes"],
                     "layers": layers, "model_choice_matches": sum(r["match"] for r in layers),
                     "linrep_layers": len(layers)}
    row["seconds"] = round(time.perf_counter() - t0, 1)
    return row


def run(settings: list[str], epochs: float = 1.0, lr: float = 1e-3, seed: int = 0, mcu: bool = True,
        latency_images: int = 50, rounds: int = 3, show_progress: bool = True) -> dict[str, Any]:
    from linrep_edge.datasets import load_fashion_mnist
    from linrep_edge.models.resnet8 import load_default_model

    test = load_fashion_mnist().test
    baseline = evaluate(load_default_model(), test.loader(1000))
    rows = [run_setting(s, SETTINGS[s], epochs, lr, seed, test, mcu, latency_images, rounds, show_progress)
            for s in settings]
    return {"baseline_accuracy": baseline, "test_images": len(test), "epochs": epochs, "lr": lr, "seed": seed,
            "rows": rows}


def format_result(res: dict[str, Any]) -> str:
    out = [f"default model {100 * res['baseline_accuracy']:.2f}% on {res['test_images']} test images; "
           f"a/b fine-tuned {res['epochs']} epoch(s), Adam lr {res['lr']}, seed {res['seed']}",
           "Cortex-M4F counts are executed instructions (QEMU plugin), not cycles; host ms: median, 1 thread", "",
           "| setting | blob B | conv ×fp32 | C acc % | Δ pt | M4 dense | M4 direct | M4 reuse | reuse/dense "
           "| model = faster | host ms dense / direct / reuse | max rel diff reuse vs direct (layers, logits) |",
           "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---|"]
    for r in res["rows"]:
        m4 = r.get("m4")
        h = r["host_ms"]
        m4_cols = (f"{m4['dense_instructions']:,} | {m4['direct_instructions']:,} | {m4['reuse_instructions']:,} | "
                   f"{m4['reuse_vs_dense']:.3f} | {m4['model_choice_matches']}/{m4['linrep_layers']}"
                   if m4 else "- | - | - | - | -")
        out.append(f"| {r['setting']} | {r['blob_bytes']:,} | {r['conv_compression_vs_fp32']:.2f} | "
                   f"{100 * r['c_accuracy']:.2f} | {100 * (r['c_accuracy'] - res['baseline_accuracy']):+.2f} | "
                   f"{m4_cols} | {h['dense']:.2f} / {h['direct']:.2f} / {h['reuse']:.2f} | "
                   f"{max(r['layer_rel_diff_reuse_vs_direct'].values()):.1e}, "
                   f"{r['logits_rel_diff_reuse_vs_direct']:.1e} |")
    for r in res["rows"]:
        if "m4" not in r:
            continue
        host = {L["name"]: L for L in r.get("host_layer_ms", [])}
        out += ["", f"{r['setting']}: per LinRep layer (K {r['templates_per_layer']}); M4F instructions, host ms",
                f"{'layer':<16} {'U':>5} {'M4 dense':>11} {'M4 direct':>11} {'M4 reuse':>11}  model   faster   "
                f"{'host dense/direct/reuse ms':>26}"]
        for L in r["m4"]["layers"]:
            h = host.get(L["name"], {})
            hs = f"{h['dense']:.3f} / {h['direct']:.3f} / {h['reuse']:.3f}" if h else ""
            out.append(f"{L['name'][:16]:<16} {L['model']['templates_used']:>5} {L['dense_instructions']:>11,} "
                       f"{L['direct_instructions']:>11,} {L['reuse_instructions']:>11,}  {L['model_path']:<7} "
                       f"{L['measured_faster']:<7}{'' if L['match'] else ' (mismatch)'}  {hs:>26}")
    return "\n".join(out)


def plot(res: dict[str, Any]) -> bytes:
    """PNG: Cortex-M4F instructions vs C-runtime accuracy, one point per (setting, path)."""
    fig, ax = figure((7, 4.5))
    for r in res["rows"]:
        if "m4" not in r:
            continue
        for path, marker in (("direct", "s"), ("reuse", "o")):
            ax.scatter(r["m4"][f"{path}_instructions"] / 1e6, 100 * r["c_accuracy"], marker=marker)
            ax.annotate(f"{r['setting']} {path}", (r["m4"][f"{path}_instructions"] / 1e6, 100 * r["c_accuracy"]),
                        fontsize=7)
    dense = [r["m4"]["dense_instructions"] for r in res["rows"] if "m4" in r]
    if dense:
        ax.axvline(dense[0] / 1e6, color="grey", ls="--", label="dense fp32")
    ax.axhline(100 * res["baseline_accuracy"], color="grey", ls=":", label="default model")
    ax.set_xlabel("Cortex-M4F instructions per inference (millions)")
    ax.set_ylabel("C-runtime accuracy, 10k test images (%)")
    ax.legend(fontsize=8)
    return png_bytes(fig, dpi=100)
