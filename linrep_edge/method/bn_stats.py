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
before it already matched (a pass of the student that stops at that batch norm): all at once from one pass,
each correction would be computed for inputs that the earlier corrections then change (tried on the default
model: far worse than no correction, where matching in order recovers most of the compression's loss).
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


@torch.no_grad()
def match_batchnorm(student: nn.Module, teacher: nn.Module, x: torch.Tensor, batch: int = BN_BATCH,
                    show_progress: bool = False) -> int:
    """Set the running statistics of every batch norm of `student` that `teacher` has under the same name and
    shape so that, on the inputs `x`, its output has the per-channel mean and spread of the teacher's (see the
    module docstring); returns how many batch norms were matched (0: the student is untouched). Both models are
    left in eval mode; on an exception the student's statistics are as they were."""
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
        for n in t_stats.order:  # the order the original runs them in; ones it never reaches stay as they are
            bar.update(1)
            m, tb = bns[n], t_bns[n]
            st = _measure(student, {n: m}, x, batch, stop_after=n).mean_std(n)
            t = t_stats.mean_std(n)
            if st is None or t is None:
                continue
            mt, vt = tb.running_mean.to(torch.float64), tb.running_var.to(torch.float64)  # type: ignore[union-attr]
            sigma_t = (vt + tb.eps).sqrt()
            varies = t[1] > 1e-6 * sigma_t
            sigma_s = torch.where(varies, sigma_t * st[1] / torch.where(varies, t[1], 1.0), sigma_t)
            m.running_mean.copy_(st[0] - sigma_s * (t[0] - mt) / sigma_t)  # type: ignore[union-attr]
            m.running_var.copy_((sigma_s * sigma_s - m.eps).clamp_min(0))  # type: ignore[union-attr]
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
