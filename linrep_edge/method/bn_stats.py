"""Batch-norm statistics of a compressed model matched to the original's on unlabelled inputs.

A compressed conv's output is the original's plus an error whose per-channel mean and spread are not zero, so
the batch norm after it normalises with statistics of a signal that is no longer there. `match_batchnorm` gives
every batch norm of the compressed model (the student) the running mean and variance under which its output has,
on the calibration inputs, the per-channel mean and standard deviation that the original's batch norm of the same
name has there. With μ, s the mean and standard deviation of a batch norm's input over the inputs (and over the
positions of a feature map), m, v its running mean and variance, σ = √(v + eps):

    σ_student = σ_teacher · s_student / s_teacher
    m_student = μ_student − σ_student · (μ_teacher − m_teacher) / σ_teacher

so that (μ_s − m_s) / σ_s = (μ_t − m_t) / σ_t and s_s / σ_s = s_t / σ_t; γ and β are shared. Where the inputs
are the data the original was trained on, μ_t ≈ m_t and s_t ≈ σ_t, and this is the usual re-estimation of the
statistics on the compressed model's own activations; where they are not (a few hundred photos for an ImageNet
network), re-estimating would normalise to the calibration inputs and move the model away from the original,
matching does not. A channel that does not vary on the inputs (s_t = 0) only has its mean matched.

The batch norms are matched one at a time in the order the original runs them, each measured with the ones
before it already matched: all at once from statistics of one uncorrected pass, each correction would be
computed for inputs that the earlier corrections then change (tried on the default model: far worse than no
correction, where matching in order recovers most of the compression's loss). Matching in order takes one
pass of the student over all the inputs as one batch when its activations fit `one_pass_bytes` (by default a
quarter of the memory available): each batch norm's forward pre-hook measures its input over the whole set and
sets its statistics before it runs, so the layers after it see the matched output. Otherwise it takes one pass
per batch norm, `batch` inputs at a time, stopped there. Both give the same statistics (up to the order of
float64 sums); on EfficientNet-Lite0 (49 batch norms, 205 inputs at 224×224, one thread) the whole step takes
78 s in one pass against 7.5 minutes with a pass per batch norm.
Batch norm folds into the packed convs, so the blob's size does not change. Dropout and everything else stay
in eval mode throughout.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from linrep_edge.method.truncated import StopForward, run_batches
from linrep_edge.progress import progress

BN_BATCH = 64
STATS_CHUNK = 16  # inputs at a time when a one-pass hook sums its batch norm's input in float64


def _one_pass_budget() -> int:
    """A quarter of the memory available now (Linux /proc/meminfo), within 512 MiB .. 16 GiB; 2 GiB when unknown."""
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            kib = next(int(line.split()[1]) for line in f if line.startswith("MemAvailable:"))
        return min(max(kib * 1024 // 4, 512 << 20), 16 << 30)
    except (OSError, StopIteration, ValueError, IndexError):
        return 2 << 30


ONE_PASS_BYTES = _one_pass_budget()  # the student's activations over all the inputs at once, estimated: above, a
# pass per batch norm

_BN = nn.modules.batchnorm._BatchNorm


def batch_norms(model: nn.Module) -> dict[str, _BN]:
    """The batch norms of `model` that keep running statistics (the ones an eval-mode model uses), by name."""
    return {n: m for n, m in model.named_modules() if isinstance(m, _BN) and m.track_running_stats}


class _InputStats:
    """Per-channel sums of each watched batch norm's input (float64) and the order they first ran in, by forward
    pre-hooks; `stop_after`: end the pass once that batch norm's input is taken."""

    def __init__(self, bns: dict[str, _BN], stop_after: str | None = None) -> None:
        self.sums: dict[str, list[Any]] = {}
        self.order: list[str] = []
        self.stop_after = stop_after
        self.handles = [m.register_forward_pre_hook(self._hook(n)) for n, m in bns.items()]

    def _hook(self, name: str) -> Any:
        def hook(_m: nn.Module, args: tuple[torch.Tensor, ...]) -> None:
            x = args[0].detach().to(torch.float64)
            x = x.transpose(0, 1).reshape(x.shape[1], -1)  # [C, N * positions]
            if name not in self.sums:
                self.order.append(name)
                self.sums[name] = [0, torch.zeros(x.shape[0], dtype=torch.float64),
                                   torch.zeros(x.shape[0], dtype=torch.float64)]
            s = self.sums[name]
            s[0] += x.shape[1]
            s[1] += x.sum(1)
            s[2] += (x * x).sum(1)
            if name == self.stop_after:
                raise StopForward
        return hook

    def mean_std(self, name: str) -> tuple[torch.Tensor, torch.Tensor] | None:
        if name not in self.sums:
            return None  # not reached by these inputs
        n, s1, s2 = self.sums[name]
        mean = s1 / n
        return mean, (s2 / n - mean * mean).clamp_min(0).sqrt()

    def close(self) -> None:
        for h in self.handles:
            h.remove()


@torch.no_grad()
def _measure(model: nn.Module, bns: dict[str, _BN], x: torch.Tensor, batch: int,
             stop_after: str | None = None) -> _InputStats:
    stats = _InputStats(bns, stop_after)
    try:
        model.eval()
        run_batches(model, x, batch)
    finally:
        stats.close()
    return stats


def _matched(m: _BN, tb: _BN, st: tuple[torch.Tensor, torch.Tensor], t: tuple[torch.Tensor, torch.Tensor]) -> None:
    """Set m's running mean and variance from its input's mean/std `st` and the teacher's `t` (module doc)."""
    mt, vt = tb.running_mean.to(torch.float64), tb.running_var.to(torch.float64)  # type: ignore[union-attr]
    sigma_t = (vt + tb.eps).sqrt()
    varies = t[1] > 1e-6 * sigma_t
    sigma_s = torch.where(varies, sigma_t * st[1] / torch.where(varies, t[1], 1.0), sigma_t)
    m.running_mean.copy_(st[0] - sigma_s * (t[0] - mt) / sigma_t)  # type: ignore[union-attr]
    m.running_var.copy_((sigma_s * sigma_s - m.eps).clamp_min(0))  # type: ignore[union-attr]


@torch.no_grad()
def activation_bytes(model: nn.Module, x: torch.Tensor) -> int:
    """An estimate of what one forward pass of `model` over all of `x` at once holds: three times the largest
    output of any of its modules for one input (the tensor, its input and a temporary), times len(x), float32."""
    largest = [int(x[:1].numel())]

    def hook(_m: nn.Module, _a: Any, out: Any) -> None:
        if isinstance(out, torch.Tensor):
            largest[0] = max(largest[0], int(out.numel()))

    handles = [m.register_forward_hook(hook) for m in model.modules()]
    try:
        model.eval()
        model(x[:1])
    finally:
        for h in handles:
            h.remove()
    return 3 * 4 * largest[0] * int(x.shape[0])


def _match_in_one_pass(student: nn.Module, bns: dict[str, _BN], t_bns: dict[str, _BN], t_stats: _InputStats,
                       x: torch.Tensor, bar: Any) -> int:
    """One pass of the student over all of x: each batch norm's pre-hook, on its first call, measures its input
    and sets its statistics before it runs."""
    done: list[str] = []

    def hook_of(name: str) -> Any:
        def hook(m: nn.Module, args: tuple[torch.Tensor, ...]) -> None:
            if name in done:
                return
            done.append(name)
            bar.update(1)
            t = t_stats.mean_std(name)
            if t is None:
                return
            sums = _InputStats({}, None)  # the same float64 sums as a pass per batch norm, a few inputs at a time
            feed = sums._hook(name)
            for i in range(0, int(args[0].shape[0]), STATS_CHUNK):
                feed(m, (args[0][i:i + STATS_CHUNK],))
            _matched(m, t_bns[name], sums.mean_std(name), t)  # type: ignore[arg-type]
        return hook

    handles = [m.register_forward_pre_hook(hook_of(n)) for n, m in bns.items() if n in t_stats.sums]
    try:
        student.eval()
        with torch.no_grad():
            student(x)
    finally:
        for h in handles:
            h.remove()
    return sum(1 for n in done if t_stats.mean_std(n) is not None)


@torch.no_grad()
def match_batchnorm(student: nn.Module, teacher: nn.Module, x: torch.Tensor, batch: int = BN_BATCH,
                    show_progress: bool = False, one_pass_bytes: int = ONE_PASS_BYTES) -> int:
    """Set the running statistics of every batch norm of `student` that `teacher` has under the same name and
    shape so that, on the inputs `x`, its output has the per-channel mean and spread of the teacher's (see the
    module docstring); returns how many batch norms were matched (0: the student is untouched). One pass over
    all of x when `activation_bytes` says it fits one_pass_bytes (0: never), else a pass per batch norm. Both
    models are left in eval mode; on an exception the student's statistics are as they were."""
    t_bns = batch_norms(teacher)
    bns = {n: m for n, m in batch_norms(student).items()
           if n in t_bns and t_bns[n].running_mean is not None and m.running_mean is not None
           and t_bns[n].running_mean.shape == m.running_mean.shape}
    if not bns or int(x.shape[0]) == 0:
        return 0
    t_stats = _measure(teacher, {n: t_bns[n] for n in bns}, x, batch)
    saved = {n: (m.running_mean.clone(), m.running_var.clone()) for n, m in bns.items()}  # type: ignore[union-attr]
    done = 0
    bar = progress(total=len(t_stats.order), desc="match batch norms", enabled=show_progress)
    try:
        if one_pass_bytes > 0 and activation_bytes(student, x) <= one_pass_bytes:
            done = _match_in_one_pass(student, bns, t_bns, t_stats, x, bar)
        else:
            for n in t_stats.order:  # the order the original runs them in; ones it never reaches stay as they are
                bar.update(1)
                st = _measure(student, {n: bns[n]}, x, batch, stop_after=n).mean_std(n)
                t = t_stats.mean_std(n)
                if st is None or t is None:
                    continue
                _matched(bns[n], t_bns[n], st, t)
                done += 1
    except BaseException:
        for n, m in bns.items():
            m.running_mean.copy_(saved[n][0])  # type: ignore[union-attr]
            m.running_var.copy_(saved[n][1])  # type: ignore[union-attr]
        raise
    finally:
        bar.close()
        student.eval()
        teacher.eval()
    return done
