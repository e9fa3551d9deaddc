"""Fine-tuning of a and b with the templates and indices fixed, and accuracy evaluation.

`finetune` minimises the cross-entropy of a compressed model over a DataLoader, updating only the
`a` and `b` parameters of its `LinRepConv2d` layers (optionally batch-norm affine parameters and the
classifier head). Batch-norm running statistics stay frozen (the model runs in eval mode), so nothing
outside the chosen parameters moves. The schedule is Adam with a cosine decay to zero, which does no
harm to a model that is already right (see DESIGN.md section 1).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from linrep_edge.errors import LinRepError
from linrep_edge.method.linrep_conv import LinRepConv2d, round_to_storage
from linrep_edge.progress import progress


@torch.no_grad()
def evaluate(model: nn.Module, loader: torch.utils.data.DataLoader) -> float:
    """Top-1 accuracy of `model` (put in eval mode) over `loader`."""
    model.eval()
    correct = total = 0
    for x, y in loader:
        correct += int((model(x).argmax(1) == y).sum())
        total += int(y.numel())
    return correct / max(total, 1)


PLAIN_LAYERS = (nn.Conv1d, nn.Conv2d, nn.ConvTranspose2d, nn.Linear)


def trainable_parameters(model: nn.Module, train_bn: bool = False, train_head: bool = False,
                         train_plain: bool = False) -> list[nn.Parameter]:
    """a and b of every LinRep layer, plus if asked: batch-norm affine, the last Linear (`train_head`), or
    every weight the blob stores as it is (`train_plain`: the convs and linears LinRep left alone, and the
    biases of LinRep layers) — values a blob holds anyway, so training them costs no byte."""
    params: list[nn.Parameter] = []
    linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
    for m in model.modules():
        if isinstance(m, LinRepConv2d):
            params += [m.a, m.b]
            if train_plain and m.bias is not None:
                params.append(m.bias)
        elif train_bn and isinstance(m, nn.modules.batchnorm._BatchNorm) and m.affine:
            params += [m.weight, m.bias]
        elif train_plain and isinstance(m, PLAIN_LAYERS):
            params += [p for p in m.parameters(recurse=False)]
    if train_head and linears and not train_plain:
        params += list(linears[-1].parameters())
    return params


def ab_loss(model: nn.Module, x: torch.Tensor, y: torch.Tensor | None, teacher: nn.Module | None = None,
            distill: float = 0.0) -> torch.Tensor:
    """(1 − distill)·CE(labels) + distill·KL(teacher ‖ model), each a mean over the batch (so the mean of
    equal shards' losses is the whole batch's loss: what data-parallel training averages)."""
    out = model(x)
    if distill < 1:
        if y is None:
            raise LinRepError("the data has no labels: fine-tune by distillation (distill = 1)")
        loss = F.cross_entropy(out, y)
    else:
        loss = out.new_zeros(())
    if distill:
        if teacher is None:
            raise LinRepError("distillation needs a teacher model")
        with torch.no_grad():
            soft = F.log_softmax(teacher(x), 1)
        kl = F.kl_div(F.log_softmax(out, 1), soft, log_target=True, reduction="batchmean")
        loss = (1 - distill) * loss + distill * kl
    return loss


def cosine_schedule(opt: torch.optim.Optimizer, steps: int) -> torch.optim.lr_scheduler.LambdaLR:
    """The learning rate decays from its start to 0 over `steps` steps (half a cosine)."""
    return torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 0.5 * (1 + math.cos(math.pi * min(s, steps) / steps)))


def finetune(
    model: nn.Module,
    loader: torch.utils.data.DataLoader | torch.Tensor,
    epochs: float = 1.0,
    lr: float = 1e-3,
    train_bn: bool = False,
    train_head: bool = False,
    show_progress: bool = True,
    teacher: nn.Module | None = None,
    distill: float = 0.0,
) -> nn.Module:
    """Train only a and b (and optional extras) of `model` in place; returns the model in eval mode.

    Minimises (1 − distill)·CE(labels) + distill·KL(teacher ‖ model) over `loader`; with a `teacher`
    (the uncompressed model) and distill = 1 the compressed model learns to give the original's answers.
    `epochs` may be fractional (0.5 = half an epoch).
    `loader` may also be a tensor of unlabelled inputs (N, C, H, W) with `teacher` the original model: then
    a and b are fitted by `calibrate.distill_calibration` (outputs + feature maps, held-out 20 %, early
    stopping; `epochs` > 1 caps the epochs, else the default cap of 60). Every other parameter and buffer is left bit for
    bit as it was: requires_grad is switched off for them during training and restored afterwards.
    """
    if isinstance(loader, torch.Tensor):  # unlabelled inputs: calibration by distillation (method/calibrate.py)
        if teacher is None:
            raise LinRepError("fine-tuning on unlabelled inputs needs teacher= (the original model)")
        from linrep_edge.method.calibrate import CALIBRATION_EPOCHS, distill_calibration

        distill_calibration(model, teacher, loader, epochs=math.ceil(epochs) if epochs > 1 else CALIBRATION_EPOCHS,
                            lr=lr, show_progress=show_progress)
        return model.eval()
    if distill and teacher is None:
        raise LinRepError("distillation needs a teacher model")
    params = trainable_parameters(model, train_bn, train_head)
    if not params:
        raise LinRepError("model has no LinRep layers to fine-tune (run compress() first)")
    chosen = {id(p) for p in params}
    saved = {}
    for p in model.parameters():
        saved[id(p)] = p.requires_grad
        p.requires_grad_(id(p) in chosen)
    steps = max(1, math.ceil(epochs * len(loader)))
    opt = torch.optim.Adam(params, lr=lr)
    sched = cosine_schedule(opt, steps)
    model.eval()  # frozen batch-norm statistics; no dropout
    done = 0
    try:
        with progress(total=steps, desc="fine-tune a,b", enabled=show_progress) as bar:
            while done < steps:
                for x, y in loader:
                    loss = ab_loss(model, x, y, teacher, distill)
                    opt.zero_grad(set_to_none=True)
                    loss.backward()
                    opt.step()
                    sched.step()
                    done += 1
                    bar.update(1)
                    bar.set_postfix(loss=f"{loss.item():.4f}")
                    if done >= steps:
                        break
    finally:
        for p in model.parameters():
            p.requires_grad_(saved[id(p)])
    round_to_storage(model)
    return model.eval()
