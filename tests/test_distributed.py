"""Data-parallel fine-tuning under torchrun (2 processes, gloo, loopback) and resume after interruption.

One tiny model (tests/tiny_models.py:tiny_cnn) on 300 digits from a user factory; 270 training items
(divisible by 2: no sampler padding), global batch 32, 2 epochs = 18 steps.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from linrep_edge.method.checkpoint import load_checkpoint

ROOT = Path(__file__).resolve().parent.parent
ENV = {**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{ROOT / 'tests'}"}
CLI = [sys.executable, "-m", "linrep_edge", "-q"]
FT = ["--data", "tiny_models:digits_dataset", "--batch", "32", "--epochs", "2", "--json"]


def _port() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return str(s.getsockname()[1])


def torchrun(n: int) -> list[str]:
    return [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", str(n), "--master-addr", "127.0.0.1",
            "--master-port", _port(), "-m", "linrep_edge", "-q"]


def run(cmd: list[str], env: dict | None = None) -> subprocess.CompletedProcess:
    r = subprocess.run(cmd, capture_output=True, text=True, env=env or ENV, timeout=240)
    assert r.returncode == 0, r.stderr[-3000:]
    return r


def params(path: Path) -> dict[str, torch.Tensor]:
    st = load_checkpoint(path).train
    assert st is not None and st["complete"]
    return st["params"]


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    d = tmp_path_factory.mktemp("dist")
    run([*CLI, "compress", "tiny_models:tiny_cnn", "--input-shape", "1,1,8,8", "--templates", "4", "-o", str(d / "c.lrc")])
    run([*CLI, "finetune", str(d / "c.lrc"), *FT, "-o", str(d / "one.lrc")])  # the single-process reference
    run([*torchrun(2), "finetune", str(d / "c.lrc"), *FT, "-o", str(d / "two.lrc")])
    return d


def test_two_processes_equal_one_process_with_the_same_global_batch(work):
    one, two = params(work / "one.lrc"), params(work / "two.lrc")
    c = load_checkpoint(work / "c.lrc").model
    assert set(one) == set(two) == {"0.a", "0.b", "2.a", "2.b"}
    for k in one:
        assert not torch.equal(one[k], c[k])  # a and b moved
        scale = float(one[k].abs().max())
        assert float((one[k] - two[k]).abs().max()) <= 1e-5 * scale, k
    s1, s2 = load_checkpoint(work / "one.lrc").train, load_checkpoint(work / "two.lrc").train
    assert (s1["world_size"], s2["world_size"]) == (1, 2)
    assert s1["global_step"] == s2["global_step"] == 18
    for h1, h2 in zip(s1["history"], s2["history"], strict=True):  # the all-reduced loss is the global one
        assert h1["loss"] == pytest.approx(h2["loss"], rel=1e-5)


_THREADS_AFTER = """
import os, sys
from linrep_edge.cli.main import main
code = main(sys.argv[1:])
names = sorted(open(f"/proc/self/task/{t}/comm").read().strip() for t in os.listdir("/proc/self/task"))
os.write(2, f"threads after finetune: {','.join(names)}\\n".encode())  # one write: the ranks' lines do not mix
sys.exit(code)
"""


def test_the_process_group_is_freed_before_the_interpreter_exits(work, tmp_path):
    """finetune's shutdown joins gloo's worker threads. When torch._dynamo (imported lazily by DDP and Adam)
    was first imported with the group in place, its modules kept references to it, the threads outlived
    destroy_process_group, and ~1 exit in 30 aborted (SIGABRT: a thread dropping the last all-reduce's
    tensors during interpreter finalisation); the resume run of the SIGTERM test failed CI that way."""
    script = tmp_path / "threads_after.py"
    script.write_text(_THREADS_AFTER)
    cmd = [*torchrun(2)[:-3], str(script), "-q", "finetune", str(work / "c.lrc"), *FT, "-o", str(tmp_path / "t.lrc")]
    r = run(cmd)
    lines = [ln for ln in r.stderr.splitlines() if ln.startswith("threads after finetune:")]
    assert len(lines) == 2, r.stderr[-2000:]  # one per rank
    for ln in lines:
        assert "python" in ln and "gloo" not in ln, ln


def test_the_global_order_is_the_single_process_loaders_and_the_shards_tile_it(digits, small_resnet):
    """W = 1: run_finetune is finetune() over Split.loader(shuffle=True, seed) for any number of epochs
    (what one-shot pack ran before this loop existed); W = 2: the ranks' j-th batches make up global batch j."""
    import copy

    from linrep_edge.method.compress import compress
    from linrep_edge.method.distributed import DistContext, ShardSampler, TrainConfig, epoch_order, run_finetune
    from linrep_edge.method.finetune import finetune

    tr = digits.train.take(650)  # not a multiple of the batch: partial last batches
    ds = torch.utils.data.TensorDataset(tr.x, tr.y)
    cm, _ = compress(small_resnet, templates=4, seed=3, show_progress=False)
    c1, c2 = copy.deepcopy(cm), copy.deepcopy(cm)
    finetune(c1, tr.loader(64, shuffle=True, seed=3), 2.5, show_progress=False)
    m = run_finetune(c2, ds, TrainConfig("digits", 2.5, 1e-3, 64, 3), show_progress=False)
    assert m["steps"] == 28 and len(m["history"]) == 2
    for (n, p), q in zip(c1.named_parameters(), c2.parameters()):
        assert torch.equal(p, q), n
    shards = [ShardSampler(ds, DistContext(rank=r, world_size=2), seed=3) for r in (0, 1)]
    for epoch in (0, 2, 1):
        order = epoch_order(650, 3, epoch)
        for s in shards:
            s.set_epoch(epoch)
        r0, r1 = list(shards[0]), list(shards[1])
        for j in range(0, 325, 32):
            assert sorted(r0[j:j + 32] + r1[j:j + 32]) == sorted(order[2 * j:2 * j + 64])
        shards[1].start = 64
        assert list(shards[1]) == r1[64:]  # a resume skips the consumed items
        shards[1].start = 0


def _interrupt(cmd: list[str], out: Path, sig: int, env: dict) -> subprocess.CompletedProcess:
    """Start `cmd`, wait until it wrote its first checkpoint, send `sig`, wait for the end."""
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    deadline = time.time() + 120
    while not out.exists() and p.poll() is None and time.time() < deadline:
        time.sleep(0.01)
    assert out.exists() and p.poll() is None, "no checkpoint before the end of the run"
    p.send_signal(sig)
    stdout, stderr = p.communicate(timeout=120)
    return subprocess.CompletedProcess(cmd, p.returncode, stdout, stderr)


def test_sigterm_under_torchrun_then_resume_is_bit_identical(work):
    out = work / "term.lrc"
    slow = {**ENV, "TINY_SLOW_MS": "4"}  # the same data, read slowly, so the signal lands mid-run
    cmd = [*torchrun(2), "finetune", str(work / "c.lrc"), *FT, "--checkpoint-every", "2", "-o", str(out)]
    r = _interrupt(cmd, out, signal.SIGTERM, slow)
    assert r.returncode != 0
    assert "interrupted by SIGTERM" in r.stderr and f"--resume {out}" in r.stderr
    st = load_checkpoint(out).train
    assert not st["complete"] and 0 < st["global_step"] < 18
    assert len(st["ranks"]) == 2
    assert [p.name for p in work.iterdir() if p.name.endswith(".tmp")] == []  # nothing half-written
    with pytest.raises(subprocess.CalledProcessError):  # an unfinished run does not pack
        subprocess.run([*CLI, "pack", str(out), "-o", str(work / "x.lre")], env=ENV, check=True, capture_output=True)
    run([*torchrun(2), "finetune", str(work / "c.lrc"), *FT, "-o", str(out), "--resume", str(out)])
    two, resumed = params(work / "two.lrc"), params(out)
    for k in two:
        assert torch.equal(two[k], resumed[k]), k
    assert load_checkpoint(out).model.keys() == load_checkpoint(work / "two.lrc").model.keys()
    for k, v in load_checkpoint(work / "two.lrc").model.items():
        assert torch.equal(v, load_checkpoint(out).model[k]), k


def test_sigkill_mid_epoch_then_resume_is_bit_identical(work):
    out = work / "kill.lrc"
    slow = {**ENV, "TINY_SLOW_MS": "2"}
    cmd = [*CLI, "finetune", str(work / "c.lrc"), *FT, "--checkpoint-every", "3", "-o", str(out)]
    r = _interrupt(cmd, out, signal.SIGKILL, slow)
    assert r.returncode == -signal.SIGKILL
    st = load_checkpoint(out).train
    assert not st["complete"] and st["global_step"] % 3 == 0 and st["global_step"] < 18
    assert st["step_in_epoch"] > 0  # mid-epoch: the resume skips the items already consumed
    r = run([*CLI, "finetune", str(work / "c.lrc"), *FT, "-o", str(out), "--resume", str(out)])
    assert '"resumed_at_step": ' + str(st["global_step"]) in r.stdout
    one, resumed = params(work / "one.lrc"), params(out)
    for k in one:
        assert torch.equal(one[k], resumed[k]), k


def test_resume_refuses_other_settings_and_world_sizes(work, capsys):
    from linrep_edge.cli.main import main

    # a finished run: nothing to resume (one line, exit 2, nothing written)
    assert main(["-q", "finetune", str(work / "c.lrc"), *FT, "-o", str(work / "z.lrc"), "--resume",
                 str(work / "one.lrc")]) == 2
    assert "that run is complete" in capsys.readouterr().err and not (work / "z.lrc").exists()
    # a run resumed with other settings or on another number of processes
    from linrep_edge.errors import LinRepError
    from linrep_edge.method.distributed import DistContext, TrainConfig, _check_resume

    state = {"config": TrainConfig("d", 2.0, 1e-3, 32, 0).to_dict(), "world_size": 2, "complete": False}
    with pytest.raises(LinRepError, match="2 process"):
        _check_resume(state, TrainConfig("d", 2.0, 1e-3, 32, 0), DistContext())
    with pytest.raises(LinRepError, match="lr"):
        _check_resume(state, TrainConfig("d", 2.0, 1e-2, 32, 0), DistContext(world_size=2))
    _check_resume(state, TrainConfig("d", 2.0, 1e-3, 32, 0), DistContext(world_size=2))  # the same: accepted
