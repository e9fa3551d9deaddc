"""Data-parallel, resumable fine-tuning of a and b on PyTorch's own engine (torchrun + DistributedDataParallel).

Launch: `torchrun --nproc-per-node N -m linrep_edge finetune ckpt.lrc ...` (or plain `python -m linrep_edge`
for one process: the same code with world size 1). `init_from_env` reads torchrun's variables (RANK,
WORLD_SIZE, LOCAL_RANK, MASTER_ADDR/PORT) and joins the process group: `gloo` on CPU, `nccl` when CUDA is
there (device cuda:LOCAL_RANK). The model is wrapped in `DistributedDataParallel`, which averages the
gradients of a and b over the ranks; metrics are all-reduced; only rank 0 writes files and prints.

Data order. Epoch e visits the training set in the order a single process has always used: that of
the e-th pass of `DataLoader(shuffle=True, generator=Generator().manual_seed(seed))` (`epoch_order`;
`DistributedSampler`'s own `randperm(n, seed + e)` would differ from it), and rank r takes items r, r + W,
r + 2W, ... of it (`ShardSampler`, a DistributedSampler: padded by repeating the first items when W does
not divide n). With a per-rank batch of B/W, the union
of the ranks' j-th batches is items jB .. (j+1)B − 1 of the permutation: exactly the j-th batch of a
single process with batch B. Every rank holds the same number of items, so the shards of a batch are
equally large and the mean of the ranks' mean losses (DDP averages gradients) is the whole batch's mean
loss: one process with batch B and N processes with B/N each follow the same trajectory up to float
rounding (when W divides n; else the padding repeats a few items in the last batch). For W = 1 it is
exactly `finetune(model, split.loader(batch, shuffle=True, seed=seed))`, for any number of epochs.

Resume. A checkpoint holds a, b, the Adam and scheduler states, epoch, step in the epoch, the per-rank
torch/numpy/python RNG states and partial metrics; `--resume` restores them on every rank and skips the
items of the epoch already consumed (the sampler starts at step·B/W), so a resumed run continues bit for
bit as the uninterrupted one — on the same number of processes (checked), with data loading in the main
process (`workers` 0; random transforms in worker processes are seeded per epoch, not per step).

Interruption. SIGINT/SIGTERM set a flag; after the current step every rank agrees to stop (a max
all-reduce), rank 0 writes a checkpoint atomically, and `Interrupted` is raised (the CLI prints one line
and exits with 128 + signal). A kill without a handler (SIGKILL) leaves the last complete checkpoint.
"""

from __future__ import annotations

import importlib
import math
import os
import random
import signal
import threading
import time
from dataclasses import asdict, dataclass
from typing import Any, Callable, Iterator

import numpy as np
import torch
import torch.distributed as dist
from torch import nn
from torch.utils.data import DataLoader, Dataset, DistributedSampler

from linrep_edge.errors import Interrupted, LinRepError
from linrep_edge.method.finetune import ab_loss, cosine_schedule, trainable_parameters
from linrep_edge.method.linrep_conv import round_to_storage
from linrep_edge.progress import progress

BACKENDS = ("auto", "gloo", "nccl")


@dataclass
class DistContext:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    device: torch.device = torch.device("cpu")
    backend: str | None = None  # None: no process group (plain single process)

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def grouped(self) -> bool:
        return self.backend is not None


def init_from_env(backend: str = "auto") -> DistContext:
    """Join torchrun's process group if launched by torchrun (RANK/WORLD_SIZE set); else a world of one."""
    if backend not in BACKENDS:
        raise LinRepError(f"--backend must be one of {', '.join(BACKENDS)}, got {backend!r}")
    if "RANK" not in os.environ or "WORLD_SIZE" not in os.environ:
        return DistContext()
    rank, world = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
    local = int(os.environ.get("LOCAL_RANK", "0"))
    if backend == "auto":
        backend = "nccl" if torch.cuda.is_available() else "gloo"
    if backend == "nccl":
        if not torch.cuda.is_available():
            raise LinRepError("--backend nccl needs CUDA GPUs; use gloo on CPU")
        torch.cuda.set_device(local)
        device = torch.device("cuda", local)
    else:
        device = torch.device("cpu")
    # torch._dynamo (imported lazily by DDP and by the optimizer's first step) pulls in modules that keep
    # references to the default process group when it exists at their import: destroy_process_group then
    # cannot free it, and its gloo worker threads, still running at interpreter exit, abort it now and then
    # (SIGABRT, "terminate called without an active exception"). Imported before the group exists, they hold
    # none, and `shutdown` joins the threads (tests/test_distributed.py).
    importlib.import_module("torch._dynamo")

    if not dist.is_initialized():
        dist.init_process_group(backend, init_method="env://", rank=rank, world_size=world)
    return DistContext(rank, world, local, device, backend)


def shutdown(ctx: DistContext) -> None:
    if ctx.grouped and dist.is_initialized():
        dist.destroy_process_group()


def all_reduce(ctx: DistContext, values: list[float], op: str = "sum") -> list[float]:
    """Sum (or max) of `values` over the ranks, in float64."""
    if not ctx.grouped:
        return list(values)
    t = torch.tensor(values, dtype=torch.float64, device=ctx.device if ctx.backend == "nccl" else "cpu")
    dist.all_reduce(t, op=dist.ReduceOp.SUM if op == "sum" else dist.ReduceOp.MAX)
    return [float(v) for v in t.cpu()]


def gather(ctx: DistContext, obj: Any) -> list[Any]:
    """`obj` of every rank, in rank order (on every rank)."""
    if not ctx.grouped:
        return [obj]
    out: list[Any] = [None] * ctx.world_size
    dist.all_gather_object(out, obj)
    return out


def wrap(model: nn.Module, ctx: DistContext) -> nn.Module:
    """`model` in DistributedDataParallel when in a process group (buffers are frozen: no re-broadcast)."""
    if not ctx.grouped:
        return model
    from torch.nn.parallel import DistributedDataParallel as DDP

    ids = [ctx.local_rank] if ctx.device.type == "cuda" else None
    return DDP(model, device_ids=ids, forward_sync_buffers=False)


class ShardSampler(DistributedSampler):
    """`DistributedSampler` (sharding rank r::W, padding, set_epoch) over the global order of `epoch_order`,
    that can start `start` items into its shard (resume)."""

    def __init__(self, dataset: Dataset, ctx: DistContext, seed: int, shuffle: bool = True) -> None:
        super().__init__(dataset, num_replicas=ctx.world_size, rank=ctx.rank, shuffle=shuffle, seed=seed,
                         drop_last=False)
        self.start = 0
        self._cache: tuple[int, torch.Tensor, list[int]] | None = None  # (epoch, generator state, order)

    def global_order(self) -> list[int]:
        n = len(self.dataset)  # type: ignore[arg-type]
        if not self.shuffle:
            return list(range(n))
        if self._cache is not None and self._cache[0] == self.epoch:
            return self._cache[2]
        g = torch.Generator().manual_seed(self.seed)
        first = 0
        if self._cache is not None and self._cache[0] < self.epoch:
            g.set_state(self._cache[1])
            first = self._cache[0] + 1
        order: list[int] = []
        for _ in range(first, self.epoch + 1):
            order = epoch_step(g, n)
        self._cache = (self.epoch, g.get_state(), order)
        return order

    def __iter__(self) -> Iterator[int]:
        indices = list(self.global_order())
        pad = self.total_size - len(indices)
        if pad > 0:
            indices += (indices * math.ceil(pad / len(indices)))[:pad]
        return iter(indices[self.rank:self.total_size:self.num_replicas][self.start:])

    def __len__(self) -> int:
        return self.num_samples - self.start


def epoch_step(g: torch.Generator, n: int) -> list[int]:
    """One epoch's order from generator `g`: the draws of one full pass of `DataLoader(shuffle=True,
    generator=g)`: an int64 (the workers' base seed), the RandomSampler's permutation, and the permutation
    RandomSampler draws for the remainder `num_samples % n` (empty, but drawn) when the pass ends."""
    torch.empty((), dtype=torch.int64).random_(generator=g)
    order = torch.randperm(n, generator=g).tolist()
    torch.randperm(n, generator=g)
    return order


def epoch_order(n: int, seed: int, epoch: int) -> list[int]:
    """The global order of epoch `epoch`: that of the epoch-th pass of a DataLoader(shuffle=True) whose
    generator was seeded with `seed` — `Split.loader(shuffle=True, seed=seed)`, what `finetune()` and
    one-shot `pack` have always used — so every process count reproduces the single-process trajectory."""
    g = torch.Generator().manual_seed(seed)
    order: list[int] = []
    for _ in range(epoch + 1):
        order = epoch_step(g, n)
    return order


# --- RNG states ---------------------------------------------------------------------------------

def rng_state() -> dict[str, Any]:
    kind, keys, pos, has_gauss, cached = np.random.get_state()  # type: ignore[misc]
    st: dict[str, Any] = {"torch": torch.get_rng_state(), "python": random.getstate(),
                          "numpy": {"kind": kind, "keys": torch.from_numpy(keys.astype(np.int64)), "pos": int(pos),
                                    "has_gauss": int(has_gauss), "cached_gaussian": float(cached)}}
    if torch.cuda.is_available():
        st["cuda"] = torch.cuda.get_rng_state()
    return st


def set_rng_state(st: dict[str, Any]) -> None:
    torch.set_rng_state(st["torch"])
    v, internal, gauss = st["python"]
    random.setstate((v, tuple(internal), gauss))
    n = st["numpy"]
    np.random.set_state((n["kind"], n["keys"].numpy().astype(np.uint32), n["pos"], n["has_gauss"],
                         n["cached_gaussian"]))
    if "cuda" in st and torch.cuda.is_available():
        torch.cuda.set_rng_state(st["cuda"])


# --- interruption -------------------------------------------------------------------------------

class StopFlag:
    """SIGINT/SIGTERM record the signal instead of killing the process (main thread only)."""

    def __init__(self) -> None:
        self.signum = 0
        self._old: dict[int, Any] = {}

    def __enter__(self) -> "StopFlag":
        if threading.current_thread() is threading.main_thread():
            for s in (signal.SIGINT, signal.SIGTERM):
                self._old[s] = signal.signal(s, self._handle)
        return self

    def _handle(self, signum: int, frame: Any) -> None:
        self.signum = signum

    def __exit__(self, *exc: Any) -> None:
        for s, h in self._old.items():
            signal.signal(s, h)


# --- the training loop --------------------------------------------------------------------------

@dataclass
class TrainConfig:
    """What decides the trajectory: a resume must use the same values (and the same world size)."""

    data: str
    epochs: float = 1.0
    lr: float = 1e-3
    batch: int = 64  # global batch: per-rank batch = batch / world size
    seed: int = 0
    distill: float = 0.0
    val_size: int | None = None
    limit: int | None = None
    transform: str | None = None
    labels: str | None = None
    input_digest: str = ""  # sha256 of the checkpoint fine-tuning started from

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _check_resume(state: dict[str, Any], cfg: TrainConfig, ctx: DistContext) -> None:
    if state.get("complete"):
        raise LinRepError("--resume: that run is complete; start a new `finetune` from it to train further")
    old = state["config"]
    for key, value in cfg.to_dict().items():
        if key == "input_digest":
            if value and old.get(key) != value:
                raise LinRepError("--resume: that run started from a different checkpoint than the one given")
        elif old.get(key) != value:
            raise LinRepError(f"--resume: that run used {key} = {old.get(key)!r}, this one {value!r} "
                              "(a resume needs the same settings)")
    if state["world_size"] != ctx.world_size:
        raise LinRepError(f"--resume: that run had {state['world_size']} process(es), this one {ctx.world_size}; "
                          "bit-identical resume needs the same number")


def run_finetune(model: nn.Module, train: Dataset, cfg: TrainConfig, ctx: DistContext | None = None,
                 resume: dict[str, Any] | None = None, teacher: nn.Module | None = None,
                 checkpoint_every: int = 0, save: Callable[[dict[str, Any]], None] | None = None,
                 show_progress: bool = True, round_at_end: bool = True) -> dict[str, Any]:
    """Fine-tune a and b of `model` in place; at the end (`round_at_end`) round fp16 a, b to what the blob
    stores, keeping the unrounded values of the last step in the final state's "params".

    `save(train_state)` is called on rank 0 every `checkpoint_every` steps, at each epoch end, on
    interruption and when done (train_state["complete"]), after the collective parts are gathered.
    Returns metrics: steps, samples, train_seconds, samples_per_second, loss history (all ranks agree).
    """
    ctx = ctx or DistContext()
    if cfg.epochs <= 0:
        raise LinRepError(f"--epochs must be > 0, got {cfg.epochs}")
    if cfg.batch < 1 or cfg.batch % ctx.world_size:
        raise LinRepError(f"--batch {cfg.batch} must be a positive multiple of the number of processes "
                          f"({ctx.world_size}): each takes batch / processes items per step")
    if checkpoint_every < 0:
        raise LinRepError(f"--checkpoint-every must be >= 0, got {checkpoint_every}")
    if cfg.distill and teacher is None:
        raise LinRepError("distillation needs a teacher model")
    if resume is not None:
        _check_resume(resume, cfg, ctx)
    per_rank = cfg.batch // ctx.world_size
    sampler = ShardSampler(train, ctx, cfg.seed)
    steps_per_epoch = math.ceil(sampler.num_samples / per_rank)
    total = max(1, math.ceil(cfg.epochs * steps_per_epoch))

    params = trainable_parameters(model)
    if not params:
        raise LinRepError("model has no LinRep layers to fine-tune (run compress first)")
    chosen = {id(p) for p in params}
    saved_flags = {id(p): p.requires_grad for p in model.parameters()}
    for p in model.parameters():
        p.requires_grad_(id(p) in chosen)
    model.to(ctx.device)
    if teacher is not None:
        teacher.to(ctx.device).eval()
    net = wrap(model, ctx)
    opt = torch.optim.Adam(params, lr=cfg.lr)
    sched = cosine_schedule(opt, total)
    history: list[dict[str, float]] = []
    if resume is not None:
        opt.load_state_dict(resume["optimizer"])
        sched.load_state_dict(resume["scheduler"])
        epoch, in_epoch, step = resume["epoch"], resume["step_in_epoch"], resume["global_step"]
        mine = resume["ranks"][ctx.rank]
        set_rng_state(mine["rng"])
        loss_sum, loss_n = mine["loss_sum"], mine["loss_n"]
        history = list(resume["history"])
    else:
        torch.manual_seed(cfg.seed)
        epoch = in_epoch = step = 0
        loss_sum, loss_n = 0.0, 0
    model.eval()  # frozen batch-norm statistics; no dropout

    def state(complete: bool = False) -> dict[str, Any]:
        ranks = gather(ctx, {"rng": rng_state(), "loss_sum": loss_sum, "loss_n": loss_n})
        return {"config": cfg.to_dict(), "world_size": ctx.world_size, "epoch": epoch, "step_in_epoch": in_epoch,
                "global_step": step, "steps_per_epoch": steps_per_epoch, "total_steps": total, "complete": complete,
                "optimizer": _cpu(opt.state_dict()), "scheduler": sched.state_dict(), "ranks": ranks,
                "history": list(history)}

    def write(st: dict[str, Any]) -> None:
        if save is not None and ctx.is_main:
            save(st)

    samples = 0
    train_s = 0.0
    first_step = step
    try:
        with StopFlag() as flag, progress(total=total, initial=step, desc="fine-tune a,b",
                                          enabled=show_progress and ctx.is_main) as bar:
            while step < total:
                sampler.set_epoch(epoch)
                sampler.start = in_epoch * per_rank
                gen = torch.Generator().manual_seed(cfg.seed * 1_000_003 + epoch)  # no draw from the global RNG
                loader = DataLoader(train, batch_size=per_rank, sampler=sampler, generator=gen)
                t0 = time.perf_counter()
                for batch in loader:
                    x, y = (batch[0], batch[1]) if isinstance(batch, (tuple, list)) else (batch, None)
                    x = x.to(ctx.device, non_blocking=True)
                    y = None if y is None else y.to(ctx.device, non_blocking=True)
                    loss = ab_loss(net, x, y, teacher, cfg.distill)
                    opt.zero_grad(set_to_none=True)
                    loss.backward()
                    opt.step()
                    sched.step()
                    step += 1
                    in_epoch += 1
                    samples += int(x.shape[0])
                    loss_sum += float(loss.detach()) * int(x.shape[0])
                    loss_n += int(x.shape[0])
                    bar.update(1)
                    end_epoch = in_epoch >= steps_per_epoch
                    if end_epoch:
                        s, n = all_reduce(ctx, [loss_sum, float(loss_n)])
                        history.append({"epoch": epoch, "loss": s / max(n, 1.0)})
                        epoch, in_epoch, loss_sum, loss_n = epoch + 1, 0, 0.0, 0
                    stop = int(all_reduce(ctx, [float(flag.signum)], "max")[0]) if ctx.grouped else flag.signum
                    done = step >= total
                    train_s += time.perf_counter() - t0
                    if (stop or end_epoch or (checkpoint_every and step % checkpoint_every == 0)) and not done:
                        write(state())
                    if stop and not done:  # a signal during the last step: finish normally instead
                        raise Interrupted(stop, f"interrupted by {signal.Signals(stop).name} at step {step} of "
                                                f"{total} (epoch {epoch}, step {in_epoch} in it)")
                    t0 = time.perf_counter()
                    if done or end_epoch:
                        break
        raw = {n: p.detach().cpu().clone() for n, p in model.named_parameters() if id(p) in chosen}
        if round_at_end:
            round_to_storage(model)
        final = state(complete=True)
        final["params"] = raw
        write(final)
    finally:
        for p in model.parameters():
            p.requires_grad_(saved_flags[id(p)])
        model.cpu()
    tot_samples, tot_s = all_reduce(ctx, [float(samples), train_s], "sum")
    secs = all_reduce(ctx, [train_s], "max")[0]
    return {"world_size": ctx.world_size, "steps": step, "steps_this_run": step - first_step,
            "total_steps": total, "samples_this_run": int(tot_samples), "train_seconds": secs,
            "samples_per_second": tot_samples / secs if secs > 0 else 0.0, "history": history}


@torch.no_grad()
def evaluate_sharded(model: nn.Module, ds: Dataset, ctx: DistContext | None = None, batch: int = 256) -> float | None:
    """Top-1 accuracy over `ds`, each rank taking items rank, rank + W, ... (no padding), all-reduced.
    None for unlabelled data."""
    ctx = ctx or DistContext()
    idx = list(range(ctx.rank, len(ds), ctx.world_size))  # type: ignore[arg-type]
    model.to(ctx.device).eval()
    correct = total = 0
    labelled = True
    for batch_ in DataLoader(torch.utils.data.Subset(ds, idx), batch_size=batch):
        if not isinstance(batch_, (tuple, list)):
            labelled = False
            break
        x, y = batch_[0].to(ctx.device), batch_[1].to(ctx.device)
        correct += int((model(x).argmax(1) == y).sum())
        total += int(y.numel())
    model.cpu()
    c, t, lab = all_reduce(ctx, [float(correct), float(total), float(labelled)], "sum")
    if lab < ctx.world_size:
        return None
    return c / max(t, 1.0)


def _cpu(obj: Any) -> Any:
    if isinstance(obj, torch.Tensor):
        return obj.detach().cpu().clone()
    if isinstance(obj, dict):
        return {k: _cpu(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_cpu(v) for v in obj]
    return obj
