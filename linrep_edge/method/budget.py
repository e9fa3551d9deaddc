"""Per-layer storage under a budget: `pack --max-bytes N` / `pack --min-agreement P` (issue 15 item 8).

From the measured sensitivity (`sensitivity.measure_sensitivity`: for each compressible layer and each
candidate — LinRep at K templates, dense int8, dense fp16 — its bytes and how far it alone moves the
outputs), choose one candidate per layer:

- `--max-bytes N`: the assignment with the smallest predicted output error whose blob (all of it: header,
  metadata, every op) is ≤ N bytes. The predicted error is Σ_layers e_l², e_l the relative output error
  with that layer alone replaced (independent errors add in power). A multiple-choice knapsack solved by
  dynamic programming over bytes (at most `DP_STEPS` byte buckets; bytes rounded up, so the estimate stays
  within the budget); then the model is assembled and packed, and if alignment or metadata make the real
  blob larger than N, the budget is lowered by the excess and the choice made again.
- `--min-agreement P`: the smallest blob whose top-1 agreement with the original, measured on the
  held-out part of the calibration inputs after assembly, is ≥ P: a bisection on the byte budget of the
  choice above (the agreement of the assembled model is measured, not predicted), then the packed graph is
  measured again and the budget raised while it falls short.

A target that cannot be met is one error naming the closest achievable blob.

With int8 activations (`pack --activations int8`) the candidates are LinRep at each K and dense int8, the
blobs are int8 (format version 4, packed through `integer.pack.int8_graph`), and the packed blob's fidelity
is measured through the integer reference (`integer.batch`: the exact int8 graph over a batch).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

from linrep_edge.errors import LinRepError
from linrep_edge.format.ir import Graph
from linrep_edge.method.sensitivity import (Sensitivity, assemble_modules, choice_name, fidelity, int8_blob,
                                            outputs_of)

DP_STEPS = 4096  # byte buckets of the knapsack
PACK_ATTEMPTS = 6  # packs to bring the real blob under --max-bytes


def predicted_error(o: Any) -> float:
    return float(o.rel_error) ** 2


def cheapest_plan(sens: Sensitivity) -> dict[str, str]:
    return {s.name: min(s.options, key=lambda o: (o.bytes, predicted_error(o))).choice for s in sens.layers}


def faithful_plan(sens: Sensitivity) -> dict[str, str]:
    return {s.name: min(s.options, key=lambda o: (predicted_error(o), o.bytes)).choice for s in sens.layers}


def dense_plan(sens: Sensitivity) -> dict[str, str]:
    """Every layer at its most faithful dense storage (fp16 over int8; int8 with int8 activations): the
    original's weights, no LinRep. The per-layer errors do not always add up: where LinRep at K = kernels is
    predicted a little closer than int8 for one layer, the assembled model can still be further away."""
    return {s.name: min((o for o in s.options if o.templates == 0), key=lambda o: (predicted_error(o), o.bytes)).choice
            for s in sens.layers}


def plan_within(sens: Sensitivity, max_bytes: int) -> dict[str, str] | None:
    """The choice per layer with the least predicted error whose estimated blob is ≤ max_bytes (None:
    even the cheapest choice is larger)."""
    room = max_bytes - sens.fixed_bytes - sum(min(o.bytes for o in s.options) for s in sens.layers)
    if room < 0:
        return None
    step = max(1, math.ceil(room / DP_STEPS))
    n = room // step + 1
    inf = float("inf")
    best = np.full(n, inf)
    best[0] = 0.0
    picks = []
    for s in sens.layers:
        low = min(o.bytes for o in s.options)
        new = np.full(n, inf)
        pick = np.full(n, -1, dtype=np.int64)
        for j, o in enumerate(s.options):
            w = math.ceil((o.bytes - low) / step)
            if w >= n:
                continue
            cand = np.full(n, inf)
            cand[w:] = best[:n - w] + predicted_error(o)
            better = cand < new
            new[better], pick[better] = cand[better], j
        best = new
        picks.append(pick)
    # the least error; among equal errors, the fewest bytes
    end = int(np.flatnonzero(best == best.min())[0])
    plan: dict[str, str] = {}
    for s, pick in zip(reversed(sens.layers), reversed(picks)):
        o = s.options[int(pick[end])]
        plan[s.name] = o.choice
        end -= math.ceil((o.bytes - min(x.bytes for x in s.options)) / step)
    return {s.name: plan[s.name] for s in sens.layers}


def assemble(sens: Sensitivity, plan: dict[str, str]) -> nn.Module:
    """The model with each compressible layer replaced by its chosen candidate (copies; LinRep layers get
    codebook ids of their own)."""
    return assemble_modules(sens.base, sens.modules, {s.name: plan[s.name] for s in sens.layers})


def blob_plan(graph: Graph) -> dict[str, str]:
    """The storage each conv of a packed graph has, by op name, in the choice names of a budget plan: "K<n>"
    for a LinRep conv (n: its codebook's templates), else its weights' dtype ("int8", "fp16", "fp32"). A budget
    blob's metadata records only the target ("budget": {"max_bytes": N} or {"min_agreement": P}): the choice is
    in the ops, and naming it again by op name cost flash (308 B on MLPerf Tiny's CIFAR-10 ResNet)."""
    out = {}
    for op in graph.ops:
        if op.linrep is not None:
            out[op.name] = choice_name(int(graph.codebooks[op.linrep.codebook].templates.shape[0]))
        elif op.type in ("CONV2D", "CONV_TRANSPOSE2D") and op.weight >= 0:
            out[op.name] = "int8" if graph.is_int8 else graph.constants[op.weight].dtype
    return out


def pack_plan(cmodel: nn.Module, example: torch.Tensor, settings: Any, sens: Sensitivity, plan: dict[str, str],
              target: dict[str, Any], source: str = "") -> bytes:
    """The .lre bytes of an assembled (perhaps fine-tuned) model: the settings' storage for everything
    else, each dense chosen layer as int8 or fp16, the choice in the metadata."""
    from linrep_edge.format.writer import pack_graph
    from linrep_edge.graph.capture import capture
    from linrep_edge.method.quantize import quantize_int8_weights
    from linrep_edge.pipeline import set_storage

    if sens.int8_bits:  # int8 activations: every weight int8, the int8 graph of the assembled model
        assert sens.calibration is not None
        return int8_blob(cmodel, example, sens.calibration, sens.int8_bits,
                         int8_metadata(settings, sens, target, source))
    g = capture(cmodel, example)
    dense = {s.op_name: plan[s.name] for s in sens.layers if plan[s.name] in ("int8", "fp16")}
    values = {op.name: (g.constants[op.weight].values.copy(), op) for op in g.ops
              if op.name in dense and op.type in ("CONV2D", "CONV_TRANSPOSE2D")}
    set_storage(g, settings.weights_dtype)
    for name, (w, op) in values.items():
        c = g.constants[op.weight]
        if dense[name] == "int8":
            c.q, c.scale, c.values = quantize_int8_weights(w)
            c.dtype = "int8"
        else:
            c.q = c.scale = None
            c.values, c.dtype = w, "fp16"
        if op.bias >= 0:
            g.constants[op.bias].dtype = "fp32" if dense[name] == "int8" else "fp16"
    meta = {**settings.metadata(), "source": source, "scope": "layer", "budget": dict(target)}
    meta.pop("templates", None)  # K is per layer: each LinRep op's codebook (blob_plan)
    g.metadata = meta
    return pack_graph(g)


def int8_metadata(settings: Any, sens: Sensitivity, target: dict[str, Any],
                  source: str) -> dict[str, Any]:
    """An int8 budget blob's metadata: the settings, the a/b width, the choice."""
    meta = {**settings.metadata(), "ab_bits": sens.int8_bits, "source": source, "scope": "layer",
            "budget": dict(target)}
    meta.pop("templates", None)
    return meta


@dataclass
class BudgetChoice:
    plan: dict[str, str]
    model: nn.Module  # assembled, not fine-tuned
    blob: bytes  # packed as assembled
    target: dict[str, Any]
    held_out_agreement: float | None = None  # the packed graph on the held-out inputs
    held_out_relative_error: float = 0.0
    searched: list[dict[str, Any]] = field(default_factory=list)  # --min-agreement: budgets tried


def packed_fidelity(blob: bytes, held: torch.Tensor, ref: list[torch.Tensor]) -> tuple[float | None, float]:
    from linrep_edge.format.reader import parse
    from linrep_edge.graph.executor import GraphModel

    graph = parse(blob).graph
    if graph.is_int8:
        return fidelity(int8_outputs(graph, held), ref)
    return fidelity(outputs_of(GraphModel(graph), held), ref)


def int8_outputs(graph: Any, x: torch.Tensor, batch: int = 256) -> list[torch.Tensor]:
    """Every result of an int8 graph on float inputs x, through the integer reference (`integer.batch`,
    bit-exact with the C runtime), dequantised with each output's scale and zero point."""
    from linrep_edge.integer.batch import dequantize_outputs, quantize_input, run_int8_batch

    parts: list[list[np.ndarray]] = []
    xs = x.detach().cpu().numpy()
    for i in range(0, len(xs), batch):
        parts.append(run_int8_batch(graph, quantize_input(graph, xs[i:i + batch])))
    q = [np.concatenate([p[j] for p in parts]).reshape(len(xs), *graph.tensors[t].shape)
         for j, t in enumerate(graph.results)]
    return [torch.from_numpy(d) for d in dequantize_outputs(graph, q)]


def _fit_bytes(sens: Sensitivity, example: torch.Tensor, settings: Any, max_bytes: int, target: dict[str, Any],
               source: str) -> tuple[dict[str, str], nn.Module, bytes]:
    """The best plan whose packed blob is ≤ max_bytes, verified by packing."""
    aim = max_bytes - len(json.dumps(target, separators=(",", ":")))
    aim -= len(json.dumps(settings.metadata(), separators=(",", ":")))  # the settings, source, scope
    best: tuple[tuple[float, int], dict[str, str], nn.Module, bytes] | None = None
    seen: set[tuple[tuple[str, str], ...]] = set()
    for _ in range(PACK_ATTEMPTS):
        plan = plan_within(sens, aim) or cheapest_plan(sens)  # the estimate may be pessimistic: try it
        key = tuple(sorted(plan.items()))
        if key in seen:
            break  # converged
        seen.add(key)
        model = assemble(sens, plan)
        blob = pack_plan(model, example, settings, sens, plan, target, source)
        if len(blob) <= max_bytes:
            score = (sum(predicted_error(s.option(plan[s.name])) for s in sens.layers), -len(blob))
            if best is None or score < best[0]:
                best = (score, plan, model, blob)
        # the estimate is off by what it does not model (metadata, vtables shared between ops, alignment):
        # aim again with this plan's real offset, lower than before if the blob was too large
        offset = len(blob) - sens.estimate_bytes(plan)
        aim = max_bytes - offset if len(blob) <= max_bytes else min(max_bytes - offset, aim - (len(blob) - max_bytes))
    if best is not None:
        return best[1], best[2], best[3]
    low = cheapest_plan(sens)
    smallest = len(pack_plan(assemble(sens, low), example, settings, sens, low, target, source))
    choices = ", ".join(sorted(set(low.values())))
    raise LinRepError(f"--max-bytes {max_bytes}: the smallest blob this model packs to is {smallest} bytes (every "
                      f"compressible layer at its cheapest candidate: {choices}); raise --max-bytes to at least "
                      f"{smallest}" + ("" if settings.weights_dtype == "int8" or sens.int8_bits else
                                       ", or add --weights-dtype int8 for the layers LinRep does not cover"))


def choose(sens: Sensitivity, example: torch.Tensor, settings: Any, held: torch.Tensor, ref: list[torch.Tensor],
           source: str = "", show_progress: bool = True) -> BudgetChoice:
    """The plan for settings.max_bytes or settings.min_agreement (see the module docstring)."""
    if settings.max_bytes:
        target: dict[str, Any] = {"max_bytes": int(settings.max_bytes)}
        plan, model, blob = _fit_bytes(sens, example, settings, int(settings.max_bytes), target, source)
        agree, err = packed_fidelity(blob, held, ref)
        return BudgetChoice(plan, model, blob, target, agree, err)
    p = float(settings.min_agreement)
    target = {"min_agreement": p}
    if ref[0].dim() != 2 or ref[0].shape[1] < 2:
        raise LinRepError("--min-agreement needs a classifier (an (N, classes) first output) to measure top-1 "
                          "agreement on; use --max-bytes")
    searched: list[dict[str, Any]] = []

    def measured(plan: dict[str, str], budget: int) -> float:
        agree, err = fidelity(outputs_of(assemble(sens, plan), held), ref)
        assert agree is not None
        searched.append({"budget_bytes": budget, "estimated_bytes": sens.estimate_bytes(plan),
                         "held_out_agreement": agree, "relative_output_error": err})
        return agree

    def packed_choice(plan: dict[str, str]) -> BudgetChoice:  # assembled, packed, measured as packed
        model = assemble(sens, plan)
        blob = pack_plan(model, example, settings, sens, plan, target, source)
        agree, err = packed_fidelity(blob, held, ref)
        return BudgetChoice(plan, model, blob, target, agree, err, searched)

    def agreement_at(budget: int) -> tuple[float, dict[str, str]]:
        plan = plan_within(sens, budget)
        assert plan is not None
        return measured(plan, budget), plan

    lo = sens.estimate_bytes(cheapest_plan(sens))
    hi = top_bytes = sens.estimate_bytes(faithful_plan(sens))
    top, _ = agreement_at(hi)
    if top < p:  # the predicted errors misled: is the model without LinRep closer?
        dense = dense_plan(sens)
        dense_top = measured(dense, sens.estimate_bytes(dense)) if dense != faithful_plan(sens) else 0.0
        if dense_top >= p:
            packed = packed_choice(dense)
            if packed.held_out_agreement is not None and packed.held_out_agreement >= p:
                return packed
            agree, blob = packed.held_out_agreement or 0.0, packed.blob
            raise LinRepError(f"--min-agreement {p:g}: not reachable once packed; the closest is "
                              f"{100 * agree:.2f}% at {len(blob)} bytes, no layer LinRep; lower --min-agreement")
        what = ("every compressible layer at its most faithful candidate" if top >= dense_top
                else "no layer LinRep")
        raise LinRepError(f"--min-agreement {p:g}: not reachable; the closest is {100 * max(top, dense_top):.2f}% top-1 "
                          f"agreement on the {held.shape[0]} held-out inputs, {what} "
                          f"({hi if top >= dense_top else sens.estimate_bytes(dense)} bytes estimated); lower "
                          "--min-agreement")
    from linrep_edge.progress import progress

    with progress(total=None, desc="agreement search", enabled=show_progress) as bar:
        got, _ = agreement_at(lo)
        if got < p:
            while hi - lo > max(16, hi // 500):  # bisection: agreement(lo) < P <= agreement(hi)
                mid = (lo + hi) // 2
                got, _ = agreement_at(mid)
                lo, hi = (lo, mid) if got >= p else (mid, hi)
                bar.update(1)
        else:
            hi = lo
        step = max(16, hi // 100)
        while True:  # the packed graph (storage of every other weight too) must reach P as well
            plan = plan_within(sens, hi)
            assert plan is not None
            packed = packed_choice(plan)
            agree = packed.held_out_agreement
            assert agree is not None
            if agree >= p:
                return packed
            if plan == faithful_plan(sens) or hi > top_bytes:
                raise LinRepError(f"--min-agreement {p:g}: not reachable once packed; the closest is "
                                  f"{100 * agree:.2f}% at {len(packed.blob)} bytes; lower --min-agreement")
            hi += step
            bar.update(1)


def budget_inputs(settings: Any, example: torch.Tensor, calibration: torch.Tensor | None, user: Any,
                  source: str) -> torch.Tensor:
    """The inputs sensitivity and agreement are measured on: --calibration's, else --data's training inputs
    (or Fashion-MNIST's for the default model), settings.budget_inputs of them drawn by the seed."""
    if calibration is not None:
        return calibration
    g = torch.Generator().manual_seed(settings.seed)
    if user is not None:
        n = len(user.train)
        idx = torch.randperm(n, generator=g)[:settings.budget_inputs].tolist()
        items = [user.train[i] for i in idx]
        return torch.stack([it[0] if isinstance(it, (tuple, list)) else it for it in items]).float()
    data = settings.data or ("fashion-mnist" if source == "default" else None)
    if data is None:
        raise LinRepError("--max-bytes / --min-agreement measure each layer on inputs: give --calibration X.npy "
                          "(unlabelled inputs) or --data")
    from linrep_edge.pipeline import finetune_split

    train = finetune_split(data, settings.seed)[0]
    if tuple(train.x.shape[1:]) != tuple(example.shape[1:]):
        raise LinRepError(f"--data {data}: inputs of shape {tuple(train.x.shape[1:])}, but the model takes "
                          f"{tuple(example.shape[1:])}; give --calibration X.npy with the model's inputs")
    idx = torch.randperm(int(train.x.shape[0]), generator=g)[:settings.budget_inputs]
    return train.x[idx]


def budget_summary(choice: BudgetChoice, sens: Sensitivity, blob: bytes, held: torch.Tensor,
                   ref: list[torch.Tensor], tuned: bool) -> dict[str, Any]:
    """`pack --json`'s "budget": the target, the blob's bytes, the choice per layer, every candidate measured,
    and the packed model's fidelity on the held-out inputs (measured again when a and b were fine-tuned
    after assembly; `_assembled`: before that)."""
    out: dict[str, Any] = {**choice.target, "blob_bytes": len(blob), "layers": choice_json(sens, choice.plan),
                           "held_out_inputs": int(held.shape[0]), "search_inputs": sens.inputs,
                           "held_out_relative_output_error_assembled": choice.held_out_relative_error}
    if choice.held_out_agreement is not None:
        out["held_out_top1_agreement_assembled"] = choice.held_out_agreement
    if choice.searched:
        out["searched"] = choice.searched
    out["candidates"] = sens.to_json()
    agree, err = packed_fidelity(blob, held, ref) if tuned else (choice.held_out_agreement, choice.held_out_relative_error)
    out["held_out_relative_output_error"] = err
    if agree is not None:
        out["held_out_top1_agreement"] = agree
    return out


def format_choice(sens: Sensitivity, plan: dict[str, str], blob_bytes: int) -> str:
    """The table `pack` prints: layer, kernels, choice, bytes, the drop measured with that layer alone."""
    w = max([5] + [len(s.op_name) for s in sens.layers])
    hdr = f"{'layer':<{w}} {'kernels':>7} {'choice':>6} {'bytes':>7} {'top-1 drop':>10} {'rel. error':>10}"
    out = [hdr, "-" * len(hdr)]
    for s in sens.layers:
        o = s.option(plan[s.name])
        drop = "" if o.top1_drop is None else f"{100 * o.top1_drop:.2f}%"
        out.append(f"{s.op_name:<{w}} {s.kernels:>7} {o.choice:>6} {o.bytes:>7} {drop:>10} {o.rel_error:>10.4f}")
    out.append(f"(each row: that layer alone replaced, on {sens.inputs} calibration inputs); blob {blob_bytes} bytes, "
               f"{blob_bytes - sum(s.option(plan[s.name]).bytes for s in sens.layers)} outside these layers")
    return "\n".join(out)


def choice_json(sens: Sensitivity, plan: dict[str, str]) -> list[dict[str, Any]]:
    return [{"layer": s.op_name, "kernels": s.kernels, **s.option(plan[s.name]).to_json()} for s in sens.layers]
