"""Recovery without labels: fine-tune a and b by distilling the original model on unlabelled inputs.

`distill_calibration(student, teacher, x)` trains only a and b of the compressed model (`student`) so that
its outputs and the feature maps of its compressed convs match the original's (`teacher`). The loss is

    L = output term + λ · Σ_convs MSE(student feature, teacher feature) / var(teacher feature)

The output term is KL(teacher ‖ student) for a single-head classifier (one (N, C) logits tensor) and the
variance-normalised MSE of every output head otherwise (several heads, dense outputs). Feature maps are
taken by forward hooks on the student's `LinRepConv2d` modules and the teacher's modules of the same name
(`compress` deep-copies the model and swaps convs by name). A held-out part of the calibration set
(`val_fraction`) is scored every epoch; the best a, b are kept and training stops after `patience` epochs
without improvement (at most `epochs`). Integer a/b (`ab_bits`) train through the straight-through
quantizer like the labelled fine-tune; their scales follow a and b (max-abs), so they need no training of
their own. Pruned kernels stay pruned (their mask zeroes a, b and the gradients). Before the first epoch the
student's batch-norm statistics are matched to the teacher's on the fit part (`bn_stats.match_batchnorm`), kept
only if the held-out outputs come closer to the teacher's; with `epochs` = 0 that is all it does.
"""

from __future__ import annotations

import copy
import math
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from linrep_edge.agreement import agreement_counts
from linrep_edge.errors import LinRepError
from linrep_edge.method.bn_stats import batch_norms, match_batchnorm
from linrep_edge.method.finetune import cosine_schedule, trainable_parameters
from linrep_edge.method.linrep_conv import LinRepConv2d, round_to_storage, trainable_templates
from linrep_edge.progress import progress

CALIBRATION_VAL_FRACTION = 0.2
CALIBRATION_EPOCHS = 60  # the cap (30 stopped short: best epochs 27-28 of 30; tools/calibration_bar.py)
CALIBRATION_LR = 1e-3
CALIBRATION_FEATURE_WEIGHT = 3.0  # chosen on the held-out calibration part (tools/calibration_bar.py)
CALIBRATION_PATIENCE = 8
CALIBRATION_BATCH = 64
CALIBRATION_AUGMENT = False  # flips, shifts (and mixup) of the unlabelled images; tools/calibration_bar.py
CALIBRATION_TEMPERATURE = 1.0  # of the output KL term
CALIBRATION_MIXUP = 0.0  # largest share of another image blended in (with augment)
CALIBRATION_REFIT_ALL = False  # after the held-out choice of the epoch count, train again on every input
CALIBRATION_TRAIN_BN = False  # also the batch-norm affine (folded into the convs' a, b and bias when packed)
CALIBRATION_ADVERSARIAL = 0.0  # step of the disagreement-seeking inputs, in units of the batch's input std (0: off)
CALIBRATION_BLOCKWISE = 0  # epochs per block of the block-wise reconstruction before distilling (0: off)
CALIBRATION_MATCH_BN = True  # batch-norm statistics matched to the original's first (kept if held-out outputs gain)


def load_calibration(path: str | Path, example: torch.Tensor) -> torch.Tensor:
    """Unlabelled inputs (N, *input shape) float32 from X.npy or X.npz (array `x`, or its only array), checked
    against the model's input shape (from `example`, batch 1) before any work. NHWC and (N, H, W) are
    accepted for image models, uint8 is scaled by 1/255 (as `--data` does)."""
    from linrep_edge.user_data import _as_inputs

    p = Path(path)
    where = f"--calibration {p}"
    if p.suffix not in (".npy", ".npz"):
        raise LinRepError(f"{where}: expected a .npy file (or .npz with an array 'x') of unlabelled inputs")
    if not p.is_file():
        raise LinRepError(f"{where}: no such file")
    try:
        if p.suffix == ".npz":
            with np.load(p, allow_pickle=False) as z:
                keys = list(z.files)
                if "x" in keys:
                    x = z["x"]
                elif len(keys) == 1:
                    x = z[keys[0]]
                else:
                    raise LinRepError(f"{where}: expected an array 'x' (or exactly one array), found "
                                      f"{', '.join(keys) or 'none'}")
        else:
            x = np.load(p, allow_pickle=False)
    except (OSError, ValueError) as exc:
        if isinstance(exc, LinRepError):
            raise
        raise LinRepError(f"{where}: cannot read the array ({exc})") from None
    shape = tuple(example.shape)
    channels = int(shape[1]) if len(shape) >= 2 else 1
    arr = np.asarray(x)
    if arr.ndim == len(shape) - 1 and len(shape) == 4 and shape[2] == 1 and tuple(arr.shape[1:]) == (shape[1], shape[3]):
        arr = arr.reshape(len(arr), *shape[1:])  # a 1-D model's [C, L] items are [C, 1, L] (an imported .tflite's)
    xt = _as_inputs(arr, channels, where)
    want = shape[1:]
    if tuple(xt.shape[1:]) != want:
        raise LinRepError(f"{where}: inputs have shape {tuple(np.asarray(x).shape)}, i.e. items of "
                          f"{tuple(xt.shape[1:])}, but the model takes {want} (an array (N, "
                          f"{', '.join(map(str, want))}))")
    if xt.shape[0] < 10:
        raise LinRepError(f"{where}: {xt.shape[0]} inputs; give at least 10 (a few hundred to a few thousand)")
    if not torch.isfinite(xt).all():
        raise LinRepError(f"{where}: the inputs hold NaN or infinite values")
    return xt


NOISE_CORRELATION = 0.2  # below this, neighbouring input values are as unrelated as noise's
NOISE_SAMPLE = 64  # items `neighbour_correlation` looks at, spread over the set (1,024 ImageNet crops in float64: 1.2 GB)


def neighbour_correlation(x: torch.Tensor) -> float | None:
    """Pearson correlation of neighbouring input values (along W, or along H where it is larger), over every
    channel of up to NOISE_SAMPLE items of `x` (N, C, H, W) spread over it: ~0.9 for photos, spectrograms and
    MFCCs, ~0 for noise. None when the items have no neighbours (feature vectors) or do not vary."""
    if x.dim() < 3:
        return None
    xs = x[:: max(1, x.shape[0] // NOISE_SAMPLE)][:NOISE_SAMPLE].double()
    best: float | None = None
    for a, b in ((xs[..., :, :-1], xs[..., :, 1:]), (xs[..., :-1, :], xs[..., 1:, :])):
        if a.numel() < 2:
            continue
        a, b = a.reshape(-1) - a.mean(), b.reshape(-1) - b.mean()
        den = float(torch.sqrt((a * a).sum() * (b * b).sum()))
        if den > 0:
            r = float((a * b).sum()) / den
            best = r if best is None else max(best, r)
    return best


def calibration_note(x: torch.Tensor, where: str) -> str | None:
    """A note when the calibration inputs do not look like real inputs: no correlation between neighbouring
    values (random noise), or every value the same. Distillation on them fits the original on inputs it never
    sees, and the agreement measured on their held-out part says nothing about real data."""
    if x.numel() and float(x.max() - x.min()) == 0.0:
        return f"warning: {where}: every input value is the same; calibrate on real inputs"
    r = neighbour_correlation(x)
    if r is not None and r < NOISE_CORRELATION:
        return (f"warning: {where}: neighbouring input values correlate at r = {r:.2f} (real images and audio "
                f"features: about 0.5 to 0.95): the inputs look like noise, so the fine-tuning fits the original "
                "where it is never used and the agreement measured on them says little about real inputs; "
                "calibrate on a few hundred real inputs")
    return None


def split_calibration(x: torch.Tensor, val_fraction: float = CALIBRATION_VAL_FRACTION,
                      seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """(train, held-out) parts of the calibration inputs, by a fixed permutation of the seed."""
    n = int(x.shape[0])
    n_val = min(n - 1, max(1, round(val_fraction * n)))
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    return x[perm[n_val:]], x[perm[:n_val]]


def augment_batch(x: torch.Tensor, g: torch.Generator, shift: int = 2, flip: bool = True,
                  mixup: float = 0.0) -> torch.Tensor:
    """Image batches (N, C, H, W): each input flipped left-right with probability 1/2 (`flip`), shifted by
    its own random offset of up to `shift` pixels each way (zero fill), and, with `mixup` = m > 0, blended
    with another input of the batch, x' = (1 − μ)·x + μ·x[perm] with μ ~ U(0, m) per input. The teacher
    labels whatever it is shown, so these are more calibration inputs near the given ones, not noisy labels.
    Other inputs (not 4-D) are returned as they are."""
    if x.dim() != 4:
        return x
    n = int(x.shape[0])
    if flip:
        f = torch.rand(n, generator=g) < 0.5
        x = torch.where(f[:, None, None, None], x.flip(3), x)
    h, w = int(x.shape[2]), int(x.shape[3])
    if shift and h > 2 * shift and w > 2 * shift:
        pad = F.pad(x, (shift, shift, shift, shift))
        d = torch.randint(0, 2 * shift + 1, (n, 2), generator=g)
        x = torch.stack([pad[i, :, int(d[i, 0]):int(d[i, 0]) + h, int(d[i, 1]):int(d[i, 1]) + w] for i in range(n)])
    if mixup > 0 and n > 1:
        mu = (mixup * torch.rand(n, generator=g))[:, None, None, None]
        x = (1 - mu) * x + mu * x[torch.randperm(n, generator=g)]
    return x


def adversarial_batch(student: nn.Module, teacher: nn.Module, x: torch.Tensor, step: float) -> torch.Tensor:
    """Inputs near `x` where the student departs most from the teacher: one signed-gradient step (FGSM) of
    size `step` × std(x) per element up the output disagreement (KL for one (N, C) logits head, else MSE of
    every head). The teacher labels them like any other input, so they add calibration inputs at the
    decision boundaries the student has not matched yet. Only the input gets a gradient here."""
    xa = x.detach().clone().requires_grad_(True)
    with torch.enable_grad():
        s, t = _heads(student(xa)), _heads(teacher(xa))
        if len(s) == 1 and s[0].dim() == 2 and s[0].shape[1] > 1:
            d = F.kl_div(F.log_softmax(s[0], 1), F.log_softmax(t[0].detach(), 1), log_target=True,
                         reduction="sum")
        else:
            d = sum(((a - b.detach()) ** 2).sum() for a, b in zip(s, t))
        (grad,) = torch.autograd.grad(d, xa)
    return (x + step * x.std() * grad.sign()).detach()


def _heads(y: Any) -> list[torch.Tensor]:
    return list(y) if isinstance(y, (tuple, list)) else [y]


class _FeatureTap:
    """Forward hooks that record the outputs of the named modules. A name "X.conv" the model does not have, where
    its "X" is an `nn.Conv1d`, is that Conv1d: the compressed model computes it as `Conv1dAs2d` (collect.py), whose
    inner 2-D conv is "X.conv"; its output is the same values as [N, C, 1, L] (DistillLoss reshapes)."""

    def __init__(self, model: nn.Module, names: list[str]) -> None:
        self.out: dict[str, torch.Tensor] = {}
        mods = dict(model.named_modules())

        def find(n: str) -> nn.Module | None:
            if n in mods:
                return mods[n]
            outer = mods.get(n[:-len(".conv")]) if n.endswith(".conv") else None
            return outer if type(outer) is nn.Conv1d else None

        missing = [n for n in names if find(n) is None]
        if missing:
            raise LinRepError(f"feature distillation: the teacher has no module {missing[0]!r} (the compressed "
                              "model must come from `compress` on this teacher)")
        self.handles = [find(n).register_forward_hook(self._hook(n)) for n in names]  # type: ignore[union-attr]

    def _hook(self, name: str) -> Any:
        def hook(_m: nn.Module, _i: Any, o: Any) -> None:
            self.out[name] = o

        return hook

    def close(self) -> None:
        for h in self.handles:
            h.remove()


@dataclass
class DistillLoss:
    """The calibration loss between a student and its teacher (see the module docstring)."""

    student: nn.Module
    teacher: nn.Module
    feature_weight: float = CALIBRATION_FEATURE_WEIGHT
    output_loss: str = "auto"  # auto | kl | mse | ce (cross-entropy on the teacher's top-1: hard pseudo-labels)
    temperature: float = 1.0  # KL on softmax(logits / T), scaled by T² (Hinton et al.)
    teacher_flip: bool = False  # the teacher's outputs: the mean of its logits on x and on x mirrored left-right
    names: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.names = [n for n, m in self.student.named_modules() if isinstance(m, LinRepConv2d)]
        if self.output_loss not in ("auto", "kl", "mse", "ce"):
            raise LinRepError(f"output loss must be auto, kl, mse or ce, got {self.output_loss!r}")
        self.s_tap = _FeatureTap(self.student, self.names if self.feature_weight else [])
        self.t_tap = _FeatureTap(self.teacher, self.names if self.feature_weight else [])

    def close(self) -> None:
        self.s_tap.close()
        self.t_tap.close()

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            t_mirror = _heads(self.teacher(x.flip(-1))) if self.teacher_flip else []
            t_out = _heads(self.teacher(x))  # after the mirrored pass: the feature maps taken are x's own
            t_feat = dict(self.t_tap.out)
            if t_mirror:
                if any(t.dim() != 2 for t in t_out):
                    raise LinRepError("a left-right averaged teacher needs outputs of shape (N, values): a spatial "
                                      "output would have to be mirrored back")
                t_out = [(a + b) / 2 for a, b in zip(t_out, t_mirror)]
        s_out = _heads(self.student(x))
        kind = self.output_loss
        if kind == "auto":
            kind = "kl" if len(s_out) == 1 and s_out[0].dim() == 2 and s_out[0].shape[1] > 1 else "mse"
        if kind in ("kl", "ce") and (len(s_out) != 1 or s_out[0].dim() != 2):
            raise LinRepError(f"{kind.upper()} distillation needs one (N, classes) logits output; use the MSE "
                              "output loss")
        if kind == "ce":  # the teacher's answers as labels, as a labelled fine-tune would use the true ones
            loss = F.cross_entropy(s_out[0], t_out[0].argmax(1))
        elif kind == "kl":
            t = self.temperature
            loss = F.kl_div(F.log_softmax(s_out[0] / t, 1), F.log_softmax(t_out[0] / t, 1), log_target=True,
                            reduction="batchmean") * t * t
        else:
            loss = sum(F.mse_loss(s, t) / t.var().clamp_min(1e-8) for s, t in zip(s_out, t_out))
        if self.feature_weight and self.names:
            feat = sum(F.mse_loss(self.s_tap.out[n], t_feat[n].reshape(self.s_tap.out[n].shape))  # a Conv1d's [N, C, L]
                       / t_feat[n].var().clamp_min(1e-8) for n in self.names)
            loss = loss + self.feature_weight * feat / len(self.names)
        return loss  # type: ignore[return-value]


@torch.no_grad()
def _held_out_loss(loss_fn: DistillLoss, val_x: torch.Tensor) -> float:
    """The distillation loss over the held-out inputs (mean per input)."""
    tot = 0.0
    for i in range(0, int(val_x.shape[0]), 256):
        xb = val_x[i:i + 256]
        tot += float(loss_fn(xb)) * int(xb.shape[0])
    return tot / int(val_x.shape[0])


def _fidelity_key(m: dict[str, Any]) -> tuple[float, float]:
    """The held-out choice's order: top-1 agreement with the original (a classifier's), then lower error. A dense
    head's agreement (per position: hundreds of thousands of answers, a few pixels' flips its differences) is
    reported but does not order: its error alone does."""
    agree = m.get("top1_agreement")
    return (agree if agree is not None and not m.get("answers_per_position") else 0.0, -m["relative_output_error"])


def _match_bn_if_better(student: nn.Module, teacher: nn.Module, train_x: torch.Tensor, val_x: torch.Tensor,
                        batch: int, before: dict[str, Any], show_progress: bool) -> dict[str, Any]:
    """`match_batchnorm` on the fit part, kept only if the student is then more faithful to the teacher on the
    held-out part (top-1 agreement, then relative output error: what the user asks of the packed model; the
    feature-map term of the training loss is a means, and matching can raise it while the outputs improve)."""
    if not batch_norms(student):
        return {"bn_matched": 0}
    saved = copy.deepcopy(student.state_dict())
    n = match_batchnorm(student, teacher, train_x, batch=batch, show_progress=show_progress)
    if not n:
        return {"bn_matched": 0}
    after = agreement(student, teacher, val_x)
    kept = _fidelity_key(after) > _fidelity_key(before)
    if not kept:
        student.load_state_dict(saved)
    return {"bn_matched": n, "bn_kept": kept, **{f"{k}_bn": v for k, v in after.items()}}


@torch.no_grad()
def agreement(student: nn.Module, teacher: nn.Module, x: torch.Tensor, batch: int = 256) -> dict[str, float]:
    """Top-1 agreement (first head, per input or per position: `linrep_edge.agreement`; none for one score per
    input) and relative output error ‖s − t‖/‖t‖ over every head, of `student` against `teacher` on inputs `x`."""
    student.eval()
    teacher.eval()
    same = total = 0
    num = den = 0.0
    n = int(x.shape[0])
    for i in range(0, n, batch):
        xb = x[i:i + batch]
        s, t = _heads(student(xb)), _heads(teacher(xb))
        same_b, total_b = agreement_counts(s[0], t[0])
        same, total = same + same_b, total + total_b
        for a, b in zip(s, t):
            num += float(((a.double() - b.double()) ** 2).sum())
            den += float((b.double() ** 2).sum())
    out = {"relative_output_error": math.sqrt(num / den) if den > 0 else math.sqrt(num)}
    if total:
        out["top1_agreement"] = same / total
        if total > n:
            out["answers_per_position"] = True
    return out


def distill_calibration(
    student: nn.Module,
    teacher: nn.Module,
    x: torch.Tensor,
    epochs: int = CALIBRATION_EPOCHS,
    lr: float = CALIBRATION_LR,
    feature_weight: float = CALIBRATION_FEATURE_WEIGHT,
    val_fraction: float = CALIBRATION_VAL_FRACTION,
    patience: int = CALIBRATION_PATIENCE,
    batch: int = CALIBRATION_BATCH,
    seed: int = 0,
    output_loss: str = "auto",
    augment: bool = CALIBRATION_AUGMENT,
    temperature: float = CALIBRATION_TEMPERATURE,
    show_progress: bool = True,
    shift: int = 2,
    mixup: float = CALIBRATION_MIXUP,
    refit_all: bool = CALIBRATION_REFIT_ALL,
    train_bn: bool = CALIBRATION_TRAIN_BN,
    ema: float = 0.0,
    adversarial: float = CALIBRATION_ADVERSARIAL,
    blockwise: int = CALIBRATION_BLOCKWISE,
    blockwise_fisher: bool = False,
    train_plain: bool = False,
    teacher_flip: bool = False,
    match_bn: bool = CALIBRATION_MATCH_BN,
    train_templates: bool = False,
) -> dict[str, Any]:
    """Fine-tune a and b of `student` in place to match `teacher` on the unlabelled inputs `x`.

    The held-out `val_fraction` of `x` scores every epoch (the distillation loss); the a, b of the best
    epoch are kept (epoch 0 = as compressed: the result is never worse on the held-out part than no
    fine-tuning). Adam with a cosine decay over `epochs`; stops after `patience` epochs without improvement.
    With `augment`, every training batch is drawn anew through `augment_batch` (left-right flips, shifts of up
    to `shift` pixels, `mixup`): the teacher labels each augmented input, so 1,024 images become many distinct
    training inputs (the held-out part is scored as given). `temperature` softens both sides of the KL term.
    With `refit_all`, the held-out part has done its job once the best epoch count is known: a and b start
    again from the compressed values and train on every input (held-out part included) for that many epochs,
    the same schedule shape (the held-out metrics reported are those of the chosen model before this refit).
    With `ema` = d in (0, 1), an exponential moving average of the trained values (shadow = d shadow + (1 - d) value
    after every step, Polyak averaging) is what each epoch's held-out score and the kept state are taken from (the
    optimiser goes on from the raw values; not with `refit_all`, whose refit keeps its last step).
    With `adversarial` = s > 0, every training batch is joined by its `adversarial_batch` (one signed-gradient
    step of s × the batch's input std towards more disagreement), labelled by the teacher too.
    With `blockwise` = e > 0, `blockwise_reconstruct` runs first on the fit part only (e epochs per block, the same
    `lr` and `batch`; `blockwise_fisher`: Fisher-weighted block outputs): each block's a, b are trained to match
    the teacher block's output given the reconstructed student prefix. The end-to-end distillation then starts
    from there, so its epoch 0 (the held-out score it must beat) is the block-wise result; the `_before`
    agreement metrics stay those of the model as compressed, `blockwise_*` those after the block-wise stage.
    With `train_plain`, what the blob stores as it is trains beside a, b (`trainable_parameters(train_plain=True)`:
    the convs and linears LinRep left alone, LinRep biases), at no cost in bytes.
    With `teacher_flip`, the teacher's outputs are the mean of its logits on the input and on its left-right
    mirror image (test-time augmentation of the teacher: for a model trained with flips, a better teacher than
    itself; every output must be (N, values)); the held-out loss follows it, the agreement metrics stay against
    the teacher's plain outputs.
    With `match_bn`, the student's batch-norm statistics are first matched to the teacher's on the fit part
    (`bn_stats.match_batchnorm`) and kept if the held-out top-1 agreement, then relative output error, improves
    (metrics `bn_matched`, `bn_kept`, the matched model's held-out figures as `*_bn`); the distillation then starts
    from there. `epochs` = 0: only that step.
    With `train_templates`, each codebook's templates train too, one parameter shared by its layers
    (`linrep_conv.trainable_templates`; back in canonical form with a, b refolded when it returns): free in the blob.
    Returns metrics: epochs run, best epoch, held-out loss before/after, agreement before/after.
    """
    if epochs < 0:
        raise LinRepError(f"--calibration-epochs must be >= 0 (0: batch-norm statistics only), got {epochs}")
    if lr <= 0:
        raise LinRepError(f"--calibration-lr must be > 0, got {lr}")
    if feature_weight < 0:
        raise LinRepError(f"--feature-weight must be >= 0, got {feature_weight}")
    if not 0 <= ema < 1:
        raise LinRepError(f"calibration EMA decay must be in [0, 1), got {ema}")
    if not temperature > 0:
        raise LinRepError(f"--calibration-temperature must be > 0, got {temperature}")
    if not 0 <= adversarial <= 1:
        raise LinRepError(f"calibration adversarial step must be in [0, 1] (of the input std), got {adversarial}")
    if not 0 <= mixup <= 1 or shift < 0:
        raise LinRepError(f"calibration augmentation: mixup in [0, 1] and shift >= 0, got {mixup}, {shift}")
    if isinstance(blockwise, bool) or not isinstance(blockwise, int) or blockwise < 0:
        raise LinRepError(f"calibration blockwise: epochs per block must be an integer >= 0, got {blockwise!r}")
    if blockwise_fisher and not blockwise:
        raise LinRepError("calibration blockwise_fisher needs blockwise > 0 (epochs per block)")
    with ExitStack() as stack:  # trained templates go back into the layers (canonical, a and b refolded) on exit
        extra = stack.enter_context(trainable_templates(student)) if train_templates else []
        params = trainable_parameters(student, train_bn=train_bn, train_plain=train_plain) + extra
        if not params and epochs:
            raise LinRepError("model has no LinRep layers to fine-tune (run compress first)")
        train_x, val_x = split_calibration(x, val_fraction, seed)
        teacher.eval()
        student.eval()  # frozen batch-norm statistics; no dropout
        chosen = {id(p) for p in params}
        saved_flags = {id(p): p.requires_grad for p in student.parameters()}
        t_flags = {id(p): p.requires_grad for p in teacher.parameters()}
        for p in student.parameters():
            p.requires_grad_(id(p) in chosen)
        for p in teacher.parameters():
            p.requires_grad_(False)

        def restore_flags() -> None:  # the caller's requires_grad, on every way out
            for p in student.parameters():
                p.requires_grad_(saved_flags[id(p)])
            for p in teacher.parameters():
                p.requires_grad_(t_flags[id(p)])

        as_compressed = agreement(student, teacher, val_x)
        metrics: dict[str, Any] = {f"{k}_before": v for k, v in as_compressed.items()}
        if match_bn:
            try:
                metrics.update(_match_bn_if_better(student, teacher, train_x, val_x, batch, as_compressed, show_progress))
            except BaseException:
                restore_flags()
                raise
        if blockwise:
            from linrep_edge.method.blockwise import blockwise_reconstruct  # (it imports this module's _heads)

            try:  # on the fit part only; the held-out part only scores the result. It puts back the flags set above.
                metrics["blockwise_blocks"] = blockwise_reconstruct(student, teacher, train_x, blockwise, lr, batch, seed,
                                                                    blockwise_fisher, params, show_progress)
            except BaseException:
                restore_flags()
                raise
        loss_fn = DistillLoss(student, teacher, feature_weight, output_loss, temperature, teacher_flip)

        def held_out() -> float:
            return _held_out_loss(loss_fn, val_x)

        steps_per_epoch = math.ceil(int(train_x.shape[0]) / batch)
        opt = torch.optim.Adam(params, lr=lr) if epochs else None  # epochs = 0: batch-norm statistics only
        sched = cosine_schedule(opt, epochs * steps_per_epoch) if opt else None
        g = torch.Generator().manual_seed(seed)
        metrics.update({"calibration_inputs": int(x.shape[0]), "calibration_train": int(train_x.shape[0]),
                        "calibration_held_out": int(val_x.shape[0])})
        if blockwise:
            metrics.update({f"blockwise_{k}": v for k, v in agreement(student, teacher, val_x).items()})
        init_state = copy.deepcopy(student.state_dict())
        held: dict[str, float] | None = None
        shadow = [p.detach().clone() for p in params] if ema > 0 else []

        def swap_shadow() -> None:  # exchange the trained values with their moving average (twice: back)
            with torch.no_grad():
                for p, s_ in zip(params, shadow):
                    tmp = p.detach().clone()
                    p.copy_(s_)
                    s_.copy_(tmp)

        def run_epoch(data: torch.Tensor, optim: torch.optim.Optimizer, schedule: Any, bar: Any, best: float) -> None:
            perm = torch.randperm(int(data.shape[0]), generator=g)
            for i in range(0, int(data.shape[0]), batch):
                xb = data[perm[i:i + batch]]
                if augment:
                    xb = augment_batch(xb, g, shift, True, mixup)
                if adversarial:
                    xb = torch.cat([xb, adversarial_batch(student, teacher, xb, adversarial)])
                loss = loss_fn(xb)
                optim.zero_grad(set_to_none=True)
                loss.backward()
                optim.step()
                schedule.step()
                if shadow:
                    with torch.no_grad():
                        for p, s_ in zip(params, shadow):
                            s_.mul_(ema).add_(p.detach(), alpha=1 - ema)
                bar.update(1)
                bar.set_postfix(loss=f"{loss.item():.4f}", best=f"{best:.4f}")

        try:
            best = held_out()
            metrics["held_out_loss_before"] = best
            best_state = copy.deepcopy({k: v for k, v in student.state_dict().items()})
            best_epoch, since, history = 0, 0, []
            with progress(total=epochs * steps_per_epoch, desc="calibrate a,b", enabled=show_progress) as bar:
                for epoch in range(1, epochs + 1):
                    run_epoch(train_x, opt, sched, bar, best)
                    if shadow:
                        swap_shadow()
                    v = held_out()
                    history.append(v)
                    improved = v < best
                    if improved:
                        best, best_epoch, since = v, epoch, 0
                        best_state = copy.deepcopy(student.state_dict())
                    if shadow:
                        swap_shadow()
                    if not improved:
                        since += 1
                        if since >= patience:
                            break
            if refit_all and best_epoch > 0:
                shadow = []  # the refit keeps its last step
                student.load_state_dict(best_state)
                round_to_storage(student)
                held = agreement(student, teacher, val_x)  # the chosen model's, before the held-out part is trained on
                student.load_state_dict(init_state)
                steps_all = math.ceil(int(x.shape[0]) / batch)
                opt = torch.optim.Adam(params, lr=lr)
                sched = cosine_schedule(opt, best_epoch * steps_all)
                with progress(total=best_epoch * steps_all, desc="refit a,b (all)", enabled=show_progress) as bar:
                    for _ in range(best_epoch):
                        run_epoch(x, opt, sched, bar, best)
                best_state = copy.deepcopy(student.state_dict())
                metrics["refit_all_epochs"] = best_epoch
        finally:
            loss_fn.close()
            restore_flags()
        student.load_state_dict(best_state)
    round_to_storage(student)
    student.eval()
    metrics.update({"epochs_run": len(history), "best_epoch": best_epoch, "held_out_loss_after": best,
                    "held_out_loss_history": history})
    if held is None:
        held = agreement(student, teacher, val_x)
    metrics.update({f"{k}_after": v for k, v in held.items()})
    return metrics
