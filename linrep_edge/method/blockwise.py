"""Block-wise reconstruction (BRECQ-style) of a compressed model against its original, before distilling.

`blockwise_reconstruct(student, teacher, x, epochs)` goes through the student's blocks in forward order
(`linrep_blocks`: the top-level children holding LinRep layers; for the ResNet-8 the stem and the three residual
blocks) and trains only that block's a, b to match the teacher block's output, given the output of the already
reconstructed student prefix, so that each block also compensates the errors of the ones before it; optionally
each output element's squared error is weighted by the teacher's diagonal Fisher information (`_fisher_weights`).
`distill_calibration(..., blockwise=e)` runs it on the fit part of the calibration inputs before its end-to-end
stage. Measured on issue 15's calibration bar (docs/bench/calibration_blockwise.json): it does not move the test
accuracy (seed 1: 91.40 % vs 91.41 % without), so it is off by default.
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from linrep_edge.errors import LinRepError
from linrep_edge.method.calibrate import CALIBRATION_BATCH, CALIBRATION_LR, _heads
from linrep_edge.method.finetune import cosine_schedule, trainable_parameters
from linrep_edge.method.linrep_conv import LinRepConv2d
from linrep_edge.method.truncated import StopForward, run_batches
from linrep_edge.progress import progress


def linrep_blocks(model: nn.Module, x: torch.Tensor) -> list[tuple[str, nn.Module]]:
    """The blocks of `model` for block-wise reconstruction, in forward order: its top-level children that hold
    LinRep layers (descending while there is a single such child that has children of its own; for the default
    ResNet-8 the stem and the three residual blocks). Each must be called once per forward pass with one tensor;
    the order is that of the calls on the inputs `x` (a small batch is enough)."""
    prefix, root = "", model
    while True:
        kids = [(n, m) for n, m in root.named_children()
                if any(isinstance(c, LinRepConv2d) for c in m.modules())]
        if len(kids) == 1 and not isinstance(kids[0][1], LinRepConv2d) and any(True for _ in kids[0][1].children()):
            prefix, root = prefix + kids[0][0] + ".", kids[0][1]
            continue
        break
    if not kids:
        raise LinRepError("model has no LinRep layers to reconstruct (run compress first)")
    calls: list[str] = []
    bad: list[str] = []

    def pre(name: str) -> Any:
        def hook(_m: nn.Module, args: Any) -> None:
            calls.append(name)
            if len(args) != 1 or not isinstance(args[0], torch.Tensor):
                bad.append(name)

        return hook

    handles = [m.register_forward_pre_hook(pre(prefix + n)) for n, m in kids]
    try:
        with torch.no_grad():
            model(x)
    finally:
        for h in handles:
            h.remove()
    names = [prefix + n for n, _ in kids]
    if bad or sorted(calls) != sorted(names):
        which = bad[0] if bad else next((n for n in names if calls.count(n) != 1), names[0])
        raise LinRepError(f"block-wise reconstruction: module {which!r} is not called exactly once with one tensor "
                          "per forward pass; use blockwise = 0 for this model")
    mods = dict(model.named_modules())
    return [(n, mods[n]) for n in calls]


@torch.no_grad()
def _capture(model: nn.Module, module: nn.Module, x: torch.Tensor, what: str, batch: int = 256) -> torch.Tensor:
    """The input (`what` = "in") or output ("out") of `module` inside `model` on the inputs `x`, batch by batch
    (the forward pass stops there)."""
    got: list[torch.Tensor] = []

    def pre(_m: nn.Module, args: Any) -> None:
        got.append(args[0].detach())
        raise StopForward

    def post(_m: nn.Module, _i: Any, o: Any) -> None:
        if not isinstance(o, torch.Tensor):
            raise LinRepError("block-wise reconstruction: a block returns more than one tensor")
        got.append(o.detach())
        raise StopForward

    h = module.register_forward_pre_hook(pre) if what == "in" else module.register_forward_hook(post)
    try:
        run_batches(model, x, batch)
    finally:
        h.remove()
    return torch.cat(got)


def _fisher_weights(teacher: nn.Module, t_block: nn.Module, s_out: torch.Tensor, x: torch.Tensor,
                    batch: int = 256) -> torch.Tensor:
    """Diagonal-Fisher weights of a block's output (BRECQ): the squared gradient of the teacher's output
    disagreement (KL(teacher ‖ ·) for one (N, C) logits head, else the squared error of every head) with respect
    to the block's output, where the teacher's block output is replaced by the student's `s_out` (the student's
    error, seen through the teacher's remaining layers). Per input (the teacher is in eval mode, the loss a sum
    over inputs), normalised to mean 1 over the fit inputs."""
    out: list[torch.Tensor] = []
    for i in range(0, int(x.shape[0]), batch):
        xb = x[i:i + batch]
        with torch.no_grad():
            t = _heads(teacher(xb))
        so = s_out[i:i + batch].detach().clone().requires_grad_(True)
        h = t_block.register_forward_hook(lambda _m, _i, _o: so)
        try:
            with torch.enable_grad():
                s = _heads(teacher(xb))
                if len(s) == 1 and s[0].dim() == 2 and s[0].shape[1] > 1:
                    d = F.kl_div(F.log_softmax(s[0], 1), F.log_softmax(t[0], 1), log_target=True, reduction="sum")
                else:
                    d = sum(((a - b) ** 2).sum() for a, b in zip(s, t))
                (g,) = torch.autograd.grad(d, so)
        finally:
            h.remove()
        out.append(g.detach() ** 2)
    w = torch.cat(out)
    m = float(w.mean())
    return w / m if m > 0 else torch.ones_like(w)


def blockwise_reconstruct(student: nn.Module, teacher: nn.Module, x: torch.Tensor, epochs: int,
                          lr: float = CALIBRATION_LR, batch: int = CALIBRATION_BATCH, seed: int = 0,
                          fisher: bool = False, params: list[nn.Parameter] | None = None,
                          show_progress: bool = True) -> list[dict[str, Any]]:
    """Sequential block-wise reconstruction (BRECQ-style) of `student` against `teacher` on the inputs `x`.

    Block by block in forward order (`linrep_blocks`), only that block's trainable values (a and b, or those of
    `params` inside the block) train for `epochs` epochs (Adam, cosine decay from `lr`) to minimise the
    variance-normalised MSE between the student block's output and the teacher block's output, where the
    student block's input is the output of the already reconstructed student prefix (so each block also
    compensates the errors of the blocks before it). With `fisher`, the squared error of every output element
    is weighted by `_fisher_weights` (computed once per block, before its training). A block whose loss on `x`
    did not fall keeps its values. The caller decides which inputs `x` are (the fit part only). Returns, per
    block, its name, the loss before and after and the number of trained tensors."""
    if epochs < 1:
        raise LinRepError(f"block-wise reconstruction: epochs per block must be >= 1, got {epochs}")
    trainable = params if params is not None else trainable_parameters(student)
    student.eval()
    teacher.eval()
    chosen = {id(p) for p in trainable}
    s_blocks = linrep_blocks(student, x[:min(int(x.shape[0]), 8)])
    t_mods = dict(teacher.named_modules())
    missing = [n for n, _ in s_blocks if n not in t_mods]
    if missing:
        raise LinRepError(f"block-wise reconstruction: the teacher has no module {missing[0]!r} (the compressed "
                          "model must come from `compress` on this teacher)")
    g = torch.Generator().manual_seed(seed)
    n = int(x.shape[0])
    steps = math.ceil(n / batch)
    report: list[dict[str, Any]] = []
    saved = {id(p): p.requires_grad for p in student.parameters()}
    try:
        with progress(total=len(s_blocks) * epochs * steps, desc="reconstruct blocks", enabled=show_progress) as bar:
            for name, blk in s_blocks:
                bparams = [p for p in blk.parameters() if id(p) in chosen]
                if not bparams:
                    continue
                inp = _capture(student, blk, x, "in")
                tgt = _capture(teacher, t_mods[name], x, "out")
                with torch.no_grad():
                    s_out = torch.cat([blk(inp[i:i + 256]) for i in range(0, n, 256)])
                w = _fisher_weights(teacher, t_mods[name], s_out, x) if fisher else None
                scale = float(tgt.var().clamp_min(1e-8))

                def block_loss(ib: torch.Tensor, tb: torch.Tensor, wb: torch.Tensor | None) -> torch.Tensor:
                    d = (blk(ib) - tb) ** 2
                    return (d if wb is None else wb * d).mean() / scale

                @torch.no_grad()
                def fit_loss() -> float:
                    tot = 0.0
                    for i in range(0, n, 256):
                        tot += float(block_loss(inp[i:i + 256], tgt[i:i + 256],
                                                None if w is None else w[i:i + 256])) * min(256, n - i)
                    return tot / n

                before = fit_loss()
                start = [p.detach().clone() for p in bparams]
                for p in student.parameters():
                    p.requires_grad_(any(p is q for q in bparams))
                opt = torch.optim.Adam(bparams, lr=lr)
                sched = cosine_schedule(opt, epochs * steps)
                for _ in range(epochs):
                    perm = torch.randperm(n, generator=g)
                    for i in range(0, n, batch):
                        j = perm[i:i + batch]
                        loss = block_loss(inp[j], tgt[j], None if w is None else w[j])
                        opt.zero_grad(set_to_none=True)
                        loss.backward()
                        opt.step()
                        sched.step()
                        bar.update(1)
                        bar.set_postfix(block=name, loss=f"{loss.item():.4f}")
                after = fit_loss()
                if not after < before:
                    with torch.no_grad():
                        for p, s0 in zip(bparams, start):
                            p.copy_(s0)
                    after = before
                report.append({"block": name, "fit_loss_before": before, "fit_loss_after": after,
                               "tensors": len(bparams), "fisher": bool(fisher)})
    finally:
        for p in student.parameters():
            p.requires_grad_(saved[id(p)])
    return report
