"""`linrep-edge bench scaling`: fine-tuning throughput at 1, 2, ... processes under torchrun (gloo, loopback).

Compresses the default model (K = 16) into a checkpoint, then runs `linrep-edge finetune` on the first
`samples` training images for one epoch through `python -m torch.distributed.run --nproc-per-node N`
(torchrun itself), with the same global batch. Samples/s is measured by the training loop (all ranks'
items over the slowest rank's time in steps, checkpoint writing and start-up excluded); the whole
command's wall time is reported beside it. Threads: torchrun gives each of N > 1 processes one
intra-op thread (OMP_NUM_THREADS=1); one process is measured with torch's default threads and with one,
so the efficiency can be read both ways: speed-up over one single-threaded process / N (per-process
scaling), and over the best single process (what the user gains on this machine). The machine's load
average before and after is part of the result: on a shared 2-core machine the figures move with it.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from linrep_edge.errors import LinRepError


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _run(ckpt: Path, out: Path, procs: int, threads: int | None, samples: int, batch: int, data: str) -> dict[str, Any]:
    env = dict(os.environ)
    if threads is None:
        env.pop("OMP_NUM_THREADS", None)
    else:
        env["OMP_NUM_THREADS"] = str(threads)
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", str(procs), "--master-addr", "127.0.0.1",
           "--master-port", str(_free_port()), "-m", "linrep_edge", "-q", "finetune", str(ckpt), "--data", data,
           "--limit", str(samples), "--epochs", "1", "--batch", str(batch), "--no-validate", "--json", "-o", str(out)]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=1800)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise LinRepError(f"bench scaling: the {procs}-process run failed:\n{proc.stderr.strip()[-2000:]}")
    res = json.loads(proc.stdout)
    return {"processes": procs, "threads_per_process": res["threads_per_process"], "backend": res["backend"],
            "samples_per_second": res["samples_per_second"], "train_seconds": res["train_seconds"],
            "wall_seconds": wall, "steps": res["steps"]}


def run(procs: list[int], samples: int = 4096, batch: int = 64, data: str = "fashion-mnist",
        show_progress: bool = True) -> dict[str, Any]:
    from linrep_edge.method.checkpoint import checkpoint_of, source_from_cli
    from linrep_edge.pipeline import PackSettings, compress_model

    if any(p < 1 for p in procs):
        raise LinRepError("--procs must be >= 1")
    settings = PackSettings(templates=16, activations="fp32")
    model, _, source = source_from_cli(None, True, None, None)
    rows = []
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as d:
        ckpt = Path(d) / "c.lrc"
        checkpoint_of(compress_model(model, settings, show_progress), source, settings).save(ckpt)
        configs: list[tuple[int, int | None]] = [(1, None), (1, 1)] + [(p, 1) for p in sorted(set(procs)) if p > 1]
        for p, threads in configs:
            rows.append(_run(ckpt, Path(d) / f"ft{p}_{threads}.lrc", p, threads, samples, batch, data))
    one_thread = next(r for r in rows if r["processes"] == 1 and r["threads_per_process"] == 1)
    best_single = max(r["samples_per_second"] for r in rows if r["processes"] == 1)
    for r in rows:
        r["speedup_vs_1_process_1_thread"] = r["samples_per_second"] / one_thread["samples_per_second"]
        r["efficiency_vs_1_process_1_thread"] = r["speedup_vs_1_process_1_thread"] / r["processes"]
        r["speedup_vs_best_1_process"] = r["samples_per_second"] / best_single
    return {"model": "default ResNet-8, K = 16", "data": data, "samples": samples, "global_batch": batch,
            "cpu_count": os.cpu_count(), "load_average_1min": [load_before, os.getloadavg()[0]], "rows": rows}


def format_result(res: dict[str, Any]) -> str:
    lines = [f"fine-tuning throughput, {res['model']}, {res['samples']} {res['data']} images, global batch "
             f"{res['global_batch']}, {res['cpu_count']} CPU cores (torchrun, gloo, loopback)", "",
             f"{'processes':>9} {'threads':>7} {'samples/s':>10} {'speed-up*':>9} {'efficiency*':>11} "
             f"{'vs best 1-proc':>14} {'wall s':>7}"]
    for r in res["rows"]:
        lines.append(f"{r['processes']:>9} {r['threads_per_process']:>7} {r['samples_per_second']:>10.0f} "
                     f"{r['speedup_vs_1_process_1_thread']:>9.2f} {r['efficiency_vs_1_process_1_thread']:>11.2f} "
                     f"{r['speedup_vs_best_1_process']:>14.2f} {r['wall_seconds']:>7.1f}")
    lines.append("* against one process with one thread; efficiency = speed-up / processes")
    lo, hi = res["load_average_1min"]
    lines.append(f"machine load (1-min average) before / after: {lo:.2f} / {hi:.2f} on {res['cpu_count']} cores: "
                 "other jobs share these cores")
    return "\n".join(lines)
