"""Data-aware LinRep: templates, indices and a, b chosen for the error of the conv's *output* on real
inputs, not of the kernel's weights (no gradient steps, one forward pass of the original model).

`compress` fits each kernel w as a·T[idx] + b by least squares on the weights: every direction of the
k×k kernel counts the same. What the network sees is the conv's output, and a kernel's output error on
input patches p is E[(⟨w − a·t − b·1, p⟩)²] = eᵀ Σ e with e = w − a·t − b·1 and Σ = E[p pᵀ], the second
moment of the k×k patches of the kernel's input channel. Natural images make Σ far from the identity
(neighbouring pixels correlate), so the weight fit spends its error in the directions the data excites
most. `data_aware_refit(student, teacher, x)`:

1. runs the original model (`teacher`) on the calibration inputs `x` once, with hooks that accumulate Σ
   of every input channel of every conv that the student holds as a `LinRepConv2d` (same module name);
2. per codebook, a few rounds of weighted k-means: every kernel takes the template and (a, b) of least
   output error eᵀ Σ e (a 2×2 least-squares system per kernel and template), then every template is the
   minimiser of its members' summed output errors (a D×D linear system), stored zero-mean, unit-norm and
   rounded to the codebook's dtype (a and b absorb shift and scale, so nothing representable is lost);
3. a last assignment for the stored templates, then a, b rounded to fp16 (what the blob holds).

Each kernel's error is taken relative to its own output energy wᵀ Σ w, so every channel counts the same
in the template update (a depthwise channel has no other kernel to average its error with). A round
never accepts templates that raise the codebook's total relative output error: the result is never worse
than its start on the calibration inputs, by that measure. Needs fp16 a, b (integer a/b layers are left
as they are) and the teacher from which `compress` made the student.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from linrep_edge.errors import LinRepError
from linrep_edge.method.linrep_conv import LinRepConv2d, round_to_storage
from linrep_edge.progress import progress

DATA_AWARE_ROUNDS = 4
_EPS = 1e-12


class _MomentTap:
    """Forward pre-hooks that add Σ_n,l p pᵀ of every input channel's k×k patches of a conv."""

    def __init__(self, teacher: nn.Module, student_convs: dict[str, LinRepConv2d]) -> None:
        mods = dict(teacher.named_modules())
        missing = [n for n in student_convs if n not in mods]
        if missing:
            raise LinRepError(f"data-aware refit: the original model has no module {missing[0]!r} (the compressed "
                              "model must come from `compress` on this model)")
        self.sums: dict[str, torch.Tensor] = {}
        self.count: dict[str, int] = {}
        self.handles = [mods[n].register_forward_pre_hook(self._hook(n, m)) for n, m in student_convs.items()]

    def _hook(self, name: str, m: LinRepConv2d) -> Any:
        kh, kw = m.kernel_size
        d = kh * kw

        def hook(_mod: nn.Module, args: tuple[Any, ...]) -> None:
            x = args[0].detach()
            if isinstance(m.padding, str):
                raise LinRepError(f"data-aware refit: layer {name!r} has padding {m.padding!r}; give numbers")
            p = F.unfold(x, (kh, kw), dilation=m.dilation, padding=m.padding, stride=m.stride)  # (N, C·D, L)
            n, _, length = p.shape
            p = p.reshape(n, m.in_channels, d, length).permute(1, 0, 3, 2).reshape(m.in_channels, n * length, d)
            s = torch.einsum("cld,cle->cde", p, p).double()
            self.sums[name] = self.sums[name] + s if name in self.sums else s
            self.count[name] = self.count.get(name, 0) + n * length

        return hook

    def close(self) -> None:
        for h in self.handles:
            h.remove()


@torch.no_grad()
def input_moments(teacher: nn.Module, student_convs: dict[str, LinRepConv2d], x: torch.Tensor,
                  batch: int = 16, show_progress: bool = False) -> dict[str, torch.Tensor]:
    """Σ = E[p pᵀ] (Cin, D, D) float64 of each named conv's input patches, the original model on `x`."""
    tap = _MomentTap(teacher, student_convs)
    teacher.eval()
    try:
        with progress(total=int(x.shape[0]), desc="input moments", enabled=show_progress) as bar:
            for i in range(0, int(x.shape[0]), batch):
                teacher(x[i:i + batch])
                bar.update(int(x[i:i + batch].shape[0]))
    finally:
        tap.close()
    return {n: s / max(tap.count[n], 1) for n, s in tap.sums.items()}


def kernel_moments(m: LinRepConv2d, sigma: torch.Tensor) -> torch.Tensor:
    """(Cout·Cin/groups, D, D): the Σ of each kernel's input channel, in the layer's kernel order."""
    cout, cin_g = m.idx.shape
    per_group = m.out_channels // m.groups
    chan = (torch.arange(cout)[:, None] // per_group) * cin_g + torch.arange(cin_g)[None, :]
    return sigma[chan.reshape(-1)]


@dataclass
class _Kernels:
    w: torch.Tensor  # (N, D) float64 weights
    sigma: torch.Tensor  # (N, D, D) float64, each scaled so that wᵀ Σ w = 1 (relative output error)


def _stack(members: list[tuple[str, LinRepConv2d]], moments: dict[str, torch.Tensor],
           originals: dict[str, nn.Module]) -> _Kernels:
    ws, ss = [], []
    for name, m in members:
        w = originals[name].weight.detach().double()  # type: ignore[union-attr]
        if tuple(w.shape) != tuple(m.idx.shape) + tuple(m.kernel_size):
            raise LinRepError(f"data-aware refit: layer {name!r} of the original has weight {tuple(w.shape)}, "
                              f"the compressed layer {tuple(m.idx.shape) + tuple(m.kernel_size)}")
        ws.append(w.reshape(-1, w.shape[2] * w.shape[3]))
        ss.append(kernel_moments(m, moments[name]))
    w = torch.cat(ws)
    s = torch.cat(ss)
    energy = torch.einsum("nd,nde,ne->n", w, s, w)
    scale = torch.where(energy > _EPS, 1.0 / energy.clamp_min(_EPS), torch.zeros_like(energy))
    return _Kernels(w, s * scale[:, None, None])


def assign(k: _Kernels, t: torch.Tensor, chunk: int = 128) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor,
                                                                     torch.Tensor]:
    """For every kernel the template and (a, b) of least eᵀ Σ e: (idx, a, b, error), error relative."""
    n, d = k.w.shape
    one = torch.ones(d, dtype=torch.float64)
    idx = torch.zeros(n, dtype=torch.long)
    a = torch.zeros(n, dtype=torch.float64)
    b = torch.zeros(n, dtype=torch.float64)
    err = torch.zeros(n, dtype=torch.float64)
    for s in range(0, n, chunk):
        sig = k.sigma[s:s + chunk]  # (c, D, D)
        w = k.w[s:s + chunk]
        v = torch.einsum("cde,ce->cd", sig, w)  # Σ w
        u = sig @ one  # Σ 1
        q = u @ one  # 1ᵀ Σ 1
        ww = (v * w).sum(1)  # wᵀ Σ w
        g11 = torch.einsum("kd,cde,ke->ck", t, sig, t)  # tᵀ Σ t
        g12 = u @ t.T  # tᵀ Σ 1
        h1 = v @ t.T  # tᵀ Σ w
        h2 = (u * w).sum(1)  # 1ᵀ Σ w
        det = g11 * q[:, None] - g12 * g12
        ok = det > 1e-12 * (g11 * q[:, None]).clamp_min(_EPS)
        det = torch.where(ok, det, torch.ones_like(det))
        aa = (q[:, None] * h1 - g12 * h2[:, None]) / det
        bb = (g11 * h2[:, None] - g12 * h1) / det
        gain = aa * h1 + bb * h2[:, None]  # the error drop of the best (a, b) for this template
        # no usable 2×2 system (zero-variance data or template): the best constant kernel b·1
        b_only = torch.where(q > _EPS, h2 / q.clamp_min(_EPS), torch.zeros_like(q))
        gain = torch.where(ok, gain, (b_only * h2)[:, None].expand_as(gain))
        best = gain.argmax(1)
        rows = torch.arange(w.shape[0])
        good = ok[rows, best]
        idx[s:s + chunk] = best
        a[s:s + chunk] = torch.where(good, aa[rows, best], torch.zeros_like(b_only))
        b[s:s + chunk] = torch.where(good, bb[rows, best], b_only)
        err[s:s + chunk] = (ww - gain[rows, best]).clamp_min(0.0)
    return idx, a, b, err


def update_templates(k: _Kernels, t: torch.Tensor, idx: torch.Tensor, a: torch.Tensor, b: torch.Tensor,
                     ridge: float = 1e-6) -> torch.Tensor:
    """Each template the minimiser of Σ_members (w − a·t − b·1)ᵀ Σ (w − a·t − b·1); unused ones kept."""
    kk, d = t.shape
    one = torch.ones(d, dtype=torch.float64)
    lhs = torch.zeros(kk, d, d, dtype=torch.float64)
    rhs = torch.zeros(kk, d, dtype=torch.float64)
    lhs.index_add_(0, idx, (a * a)[:, None, None] * k.sigma)
    r = k.w - b[:, None] * one
    rhs.index_add_(0, idx, a[:, None] * torch.einsum("nde,ne->nd", k.sigma, r))
    used = torch.zeros(kk, dtype=torch.bool)
    used[idx[a.abs() > 0]] = True
    out = t.clone()
    for j in torch.nonzero(used).flatten().tolist():
        m = lhs[j]
        lam = ridge * float(torch.diagonal(m).mean().clamp_min(_EPS))
        out[j] = torch.linalg.solve(m + lam * torch.eye(d, dtype=torch.float64), rhs[j])
    return out


def canonical(t: torch.Tensor, dtype: str) -> torch.Tensor:
    """Zero-mean, unit-norm rows (a zero-variance row left as it is), rounded to the codebook dtype."""
    c = t - t.mean(1, keepdim=True)
    n = c.norm(dim=1, keepdim=True)
    c = torch.where(n > _EPS, c / n.clamp_min(_EPS), t)
    return c.to(torch.float16 if dtype == "fp16" else torch.float32).double()


@torch.no_grad()
def data_aware_refit(student: nn.Module, teacher: nn.Module, x: torch.Tensor, rounds: int = DATA_AWARE_ROUNDS,
                     batch: int = 16, show_progress: bool = True) -> dict[str, Any]:
    """Refit templates, indices and a, b of `student`'s fp16 LinRep layers in place for output error on
    the original model's inputs (see the module docstring). Returns per codebook the mean relative output
    error of its kernels before (the weight fit) and after, and the rounds kept."""
    convs = {n: m for n, m in student.named_modules() if isinstance(m, LinRepConv2d) and not m.ab_bits}
    if not convs:
        raise LinRepError("data-aware refit: the model has no fp16 LinRep layers (run compress first)")
    if rounds < 0:
        raise LinRepError(f"data-aware refit: rounds must be >= 0, got {rounds}")
    moments = input_moments(teacher, convs, x, batch, show_progress)
    originals = dict(teacher.named_modules())
    by_cb: dict[int, list[tuple[str, LinRepConv2d]]] = {}
    for n, m in convs.items():
        by_cb.setdefault(m.codebook, []).append((n, m))
    report: dict[str, Any] = {"calibration_inputs": int(x.shape[0]), "rounds": rounds, "codebooks": []}
    for cb, members in by_cb.items():
        k = _stack(members, moments, originals)
        m0 = members[0][1]
        kh, kw = m0.kernel_size
        t = m0.templates.detach().double().reshape(-1, kh * kw)
        # the weight fit as it stands is the start: its error under the same measure
        cur_idx = torch.cat([m.idx.reshape(-1) for _, m in members])
        cur_a = torch.cat([m.masked_ab()[0].detach().double().reshape(-1) for _, m in members])
        cur_b = torch.cat([m.masked_ab()[1].detach().double().reshape(-1) for _, m in members])
        e = k.w - cur_a[:, None] * t[cur_idx] - cur_b[:, None]
        before = float(torch.einsum("nd,nde,ne->n", e, k.sigma, e).mean())
        idx, a, b, err = assign(k, t)
        best = (float(err.mean()), t, idx, a, b)
        kept = 0
        for _ in range(rounds):
            t_new = canonical(update_templates(k, best[1], best[2], best[3], best[4]), m0.codebook_dtype)
            idx, a, b, err = assign(k, t_new)
            if float(err.mean()) >= best[0]:
                break
            best = (float(err.mean()), t_new, idx, a, b)
            kept += 1
        after, t, idx, a, b = best
        stored = t.float().reshape(-1, kh, kw)
        start = 0
        for name, m in members:
            n = m.idx.numel()
            m.templates.copy_(stored)
            m.idx.copy_(idx[start:start + n].reshape(m.idx.shape))
            keep = m.mask
            m.a.copy_(torch.where(keep, a[start:start + n].reshape(m.idx.shape).float(), torch.zeros_like(m.a)))
            m.b.copy_(torch.where(keep, b[start:start + n].reshape(m.idx.shape).float(), torch.zeros_like(m.b)))
            start += n
        report["codebooks"].append({"codebook": cb, "kernel_shape": [kh, kw], "templates": int(t.shape[0]),
                                    "kernels": int(k.w.shape[0]), "layers": len(members),
                                    "relative_output_error_weight_fit": before,
                                    "relative_output_error_data_aware": after, "rounds_kept": kept})
    round_to_storage(student)
    return report
