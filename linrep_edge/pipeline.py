"""The pipeline: compress → (fine-tune a, b) → capture → storage settings → .lre bytes.

`pack_model` is the one function behind `linrep-edge pack`; it is `compress_model`, `finetune` and
`pack` in a row, and the Python API offers the three steps alone (a user's own fine-tuning loop goes
between them). Each step is its own module. Same inputs and seed give byte-identical blobs
(clustering, fine-tuning data order and packing are all seeded or ordered).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from typing import Any, Sequence

import numpy as np
import torch
from torch import nn

from linrep_edge.graph.capture import capture
from linrep_edge.method.compress import compress
from linrep_edge.datasets import load_dataset
from linrep_edge.errors import LinRepError
from linrep_edge.method.finetune import evaluate, trainable_parameters
from linrep_edge.format.ir import Graph
from linrep_edge.method.linrep_conv import LinRepConv2d, prune
from linrep_edge.format.reader import parse
from linrep_edge.format.writer import pack_graph
from linrep_edge.method.quantize import check_bits, quantize_int8_weights

ACTIVATIONS = ("auto", "fp32", "int8")  # auto: `choose_activations`
FINETUNE_BATCH = 64  # chosen with lr 1e-3 on the validation split (3 seeds): tools/choose_finetune.py
VALIDATION_IMAGES = {"fashion-mnist": 5000, "digits": 200}


@dataclass
class PackSettings:
    templates: int = 16
    distance: str = "signfree"
    scope: str = "global"
    seed: int = 0
    codebook_dtype: str = "fp16"
    weights_dtype: str = "fp16"
    include: Sequence[str] | None = None
    exclude: Sequence[str] | None = None
    finetune_epochs: float = 0.0
    finetune_lr: float = 1e-3
    data: str | None = None
    cap_templates: bool = False
    ab_bits: int = 0  # 0: fp16 a/b; 2..8: integers, fine-tuned with the quantization in the loop
    ab_scale: str = "channel"  # integer a/b: one scale per output channel, or per layer
    prune_sparsity: float = 0.0  # fraction of each LinRep layer's kernels pruned (smallest ‖a·T + b‖ first)
    prune_threshold: float = 0.0  # prune kernels with ‖a·T + b‖₂ below this
    templates_ratio: float | None = None  # scope "layer": K = max(2, round(ratio * Cout)) per layer
    calibration: str | None = None  # X.npy / X.npz of unlabelled inputs: fine-tune a, b by distilling the original
    calibration_epochs: int = 60  # cap; early stopping on the held-out 20 % of the calibration inputs
    calibration_lr: float = 1e-3
    feature_weight: float = 3.0  # weight of the feature-map term of the calibration loss
    data_aware: int = 0  # --calibration: rounds of the data-aware refit of templates, idx, a, b (0: off) before distilling
    calibration_augment: bool = False  # flips and shifts of the calibration images while distilling
    calibration_temperature: float = 1.0  # temperature of the distillation's output KL term
    calibration_match_bn: bool = True  # batch-norm statistics matched to the original's first (bn_stats.py)
    max_bytes: int | None = None  # per-layer choice: the most faithful blob of at most this many bytes
    min_agreement: float | None = None  # per-layer choice: the smallest blob with this held-out top-1 agreement
    budget_templates: tuple[int, ...] = (4, 8, 16, 32, 64)  # candidate K per layer (capped by its kernels)
    budget_inputs: int = 1024  # inputs drawn from --data / the default model's training data to measure on
    budget_cache: str | None = None  # JSON file of the per-layer measurements, reused for the same model and inputs
    activations: str = "auto"  # "int8": an int8 graph (format version 4), a/b fine-tuned with the int8 model in the
    # loop; "fp32"; "auto": int8 when there are inputs to calibrate on, else fp32 (`choose_activations`)
    layer_ab_bits: Sequence[str] | None = None  # int8: "LAYER=BITS" a/b widths that differ from ab_bits
    threads: int | None = None  # torch's intra-op threads while packing (None: torch's choice); what trains a, b
    # (fine-tuning, calibration) gives the same bytes again only at the same thread count, which the blob records

    @property
    def budgeted(self) -> bool:
        return self.max_bytes is not None or self.min_agreement is not None

    def metadata(self) -> dict[str, Any]:
        """How the blob was made: the settings that differ from the defaults, and always K and the seed."""
        meta: dict[str, Any] = {"templates": self.templates, "seed": self.seed}
        for key, default in (("distance", "signfree"), ("scope", "global"), ("codebook_dtype", "fp16"),
                             ("weights_dtype", "fp16"), ("include", None), ("exclude", None), ("data", None),
                             ("finetune_epochs", 0.0), ("cap_templates", False), ("ab_bits", 0),
                             ("ab_scale", "channel"), ("prune_sparsity", 0.0), ("prune_threshold", 0.0),
                             ("templates_ratio", None), ("activations", "fp32"),
                             ("layer_ab_bits", None), ("data_aware", 0)):
            value = getattr(self, key)
            if value != default and not (key == "activations" and value == "auto"):  # fp32 blobs: as before auto
                meta[key] = list(value) if isinstance(value, (list, tuple)) else value
        if self.finetune_epochs:
            meta["finetune_lr"] = self.finetune_lr
        if self.threads is not None:
            meta["threads"] = self.threads
        if self.budgeted:
            meta["budget_templates"] = list(self.budget_templates)
        if self.calibration:
            from pathlib import Path

            meta.update(calibration=Path(self.calibration).name, calibration_epochs=self.calibration_epochs,
                        calibration_lr=self.calibration_lr, feature_weight=self.feature_weight,
                        calibration_augment=self.calibration_augment,
                        calibration_temperature=self.calibration_temperature,
                        calibration_match_bn=self.calibration_match_bn)
        return meta


@dataclass
class PackResult:
    blob: bytes
    graph: Graph
    model: nn.Module
    timings: dict[str, float] = field(default_factory=dict)
    accuracy: dict[str, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)  # what the user should know about this blob
    calibration: dict[str, Any] = field(default_factory=dict)  # --calibration: distillation metrics, agreement
    budget: dict[str, Any] = field(default_factory=dict)  # --max-bytes / --min-agreement: the per-layer choice
    budget_table: str = ""  # the same, as the table pack prints
    activations: str = "fp32"  # what the blob holds: settings.activations resolved (`choose_activations`)


def set_storage(g: Graph, dtype: str) -> None:
    """Storage of the non-LinRep constants. int8: dense conv and linear weights per output channel (their
    bias fp32, as the format wants), every other constant fp16."""
    if dtype not in ("fp32", "fp16", "int8"):
        raise LinRepError(f"--weights-dtype must be fp32, fp16 or int8, got {dtype!r}")
    for c in g.constants:
        c.dtype = "fp16" if dtype == "int8" else dtype
    if dtype != "int8":
        return
    for op in g.ops:
        if op.type in ("CONV2D", "LINEAR") and op.weight >= 0:
            c = g.constants[op.weight]
            c.q, c.scale, c.values = quantize_int8_weights(c.values)
            c.dtype = "int8"
            if op.bias >= 0:
                g.constants[op.bias].dtype = "fp32"


def finetune_split(data: str, seed: int = 0):  # type: ignore[no-untyped-def]
    """(train-minus-validation, validation, test) splits of a data set."""
    ds = load_dataset(data)
    train, val = ds.train_val(VALIDATION_IMAGES[data], seed=seed)
    return train, val, ds.test


def compress_model(model: nn.Module, settings: PackSettings, show_progress: bool = True) -> nn.Module:
    """`compress` with the settings' K, distance, scope, seed, integer a/b and pruning; a new model."""
    if settings.ab_bits:
        check_bits(settings.ab_bits)
    if settings.ab_scale not in ("channel", "layer"):
        raise LinRepError(f"--ab-scale must be channel or layer, got {settings.ab_scale!r}")
    cmodel, _ = compress(model, settings.templates, settings.distance, settings.scope, settings.seed,
                         settings.include, settings.exclude, settings.codebook_dtype,
                         cap_templates=settings.cap_templates, show_progress=show_progress,
                         templates_ratio=settings.templates_ratio)
    if settings.ab_bits:
        for m in cmodel.modules():
            if isinstance(m, LinRepConv2d):
                m.set_ab_bits(settings.ab_bits, per_channel=settings.ab_scale == "channel")
    if settings.prune_sparsity or settings.prune_threshold:
        prune(cmodel, settings.prune_sparsity, settings.prune_threshold)  # masks fixed before fine-tuning
    return cmodel


def pack(cmodel: nn.Module, example: torch.Tensor, settings: PackSettings | None = None, source: str = "") -> bytes:
    """The fp32-activation .lre bytes of a compressed (and perhaps fine-tuned) model: capture at `example`'s
    shape, the settings' storage for what LinRep does not cover, the settings as metadata. (int8 activations
    need calibration and quantisation: `pack_model`.)"""
    settings = settings or PackSettings()
    if settings.activations == "int8":
        raise LinRepError("pack() writes fp32-activation blobs; an int8 model comes from pack_model (calibration, "
                          "quantisation-aware fine-tuning)")
    g = capture(cmodel, example)
    set_storage(g, settings.weights_dtype)
    g.metadata = {**settings.metadata(), "source": source}
    return pack_graph(g)


def pack_model(model: nn.Module, example: torch.Tensor, settings: PackSettings, source: str = "",
               evaluate_on_test: bool = False, show_progress: bool = True,
               measure_on: torch.Tensor | None = None) -> PackResult:
    """Compress `model`, optionally fine-tune a and b, and pack it. `model` itself is not modified.

    settings.activations "auto" (the default) is resolved first, by `choose_activations`: int8 where there
    are inputs to calibrate on, else fp32 with a note (PackResult.activations, PackResult.notes).

    With settings.max_bytes or settings.min_agreement, each compressible layer's storage is chosen from its
    measured sensitivity (method/budget.py) on `measure_on` (inputs (N, *input shape)) if given, else on
    the --calibration inputs, else on --data's training inputs.

    settings.threads: torch's intra-op threads for the whole call (restored after); when a, b are trained
    (fine-tuning, calibration) the thread count in force is recorded in the blob's metadata ("threads"): the
    float sums of training are split over the threads, so the same bytes come again only at the same count
    (and the same torch build and CPU type)."""
    if settings.threads is not None and settings.threads < 1:
        raise LinRepError(f"--threads must be >= 1, got {settings.threads}")
    threads = torch.get_num_threads()
    if settings.threads is not None:
        torch.set_num_threads(settings.threads)
    try:
        trained = settings.finetune_epochs > 0 or bool(settings.calibration)
        settings = replace(settings, threads=torch.get_num_threads() if trained else None)  # metadata
        return _pack_model(model, example, settings, source, evaluate_on_test, show_progress, measure_on)
    finally:
        torch.set_num_threads(threads)


def _pack_model(model: nn.Module, example: torch.Tensor, settings: PackSettings, source: str,
                evaluate_on_test: bool, show_progress: bool, measure_on: torch.Tensor | None) -> PackResult:
    """pack_model's work, at the thread count in force."""
    if settings.finetune_epochs < 0:
        raise LinRepError(f"--finetune-epochs must be >= 0, got {settings.finetune_epochs}")
    if settings.finetune_epochs > 0 and not settings.data:
        raise LinRepError("fine-tuning needs data: pass --data fashion-mnist, --data digits, your own labelled "
                          "data (--data X.npz, an image folder, package.module:function), or unlabelled inputs "
                          "with --calibration X.npy")
    if settings.activations not in ACTIVATIONS:
        raise LinRepError(f"--activations must be auto, fp32 or int8, got {settings.activations!r}")
    captured = capture(model, example)  # every unsupported operation, at once, before any long work
    activations, activations_note = choose_activations(settings, captured, source, measure_on)
    settings = replace(settings, activations=activations)
    int8 = settings.activations == "int8"
    if int8 and settings.weights_dtype != "fp16":
        raise LinRepError("--activations int8 stores every weight as int8 itself: leave --weights-dtype out")
    layer_bits = parse_layer_bits(settings.layer_ab_bits)
    if layer_bits and not int8:
        raise LinRepError("--layer-ab-bits is for --activations int8")
    if int8 and calibration_inputs(settings, source, measure_on) is None:
        raise LinRepError("--activations int8 needs inputs to calibrate the activation ranges: --data (its "
                          "training images) or --calibration X.npy")
    if int8 and settings.ab_scale != "channel":
        raise LinRepError("--activations int8 has one a/b scale per output channel: leave --ab-scale out")
    if settings.data_aware and not settings.calibration:
        raise LinRepError("--data-aware needs unlabelled inputs to measure the convs' inputs on: --calibration X.npy")
    if settings.data_aware < 0:
        raise LinRepError(f"--data-aware must be >= 0 rounds, got {settings.data_aware}")
    if settings.data_aware and settings.ab_bits:
        raise LinRepError("--data-aware refits fp16 a, b: leave --ab-bits out (or drop --data-aware)")
    if settings.calibration and settings.finetune_epochs > 0:
        raise LinRepError("--calibration and --finetune-epochs: choose one (distillation on unlabelled inputs, or "
                          "the labelled fine-tune on --data)")
    if settings.budgeted:
        check_budget_settings(settings)
    timings: dict[str, float] = {}
    acc: dict[str, float] = {}
    t0 = time.perf_counter()
    if settings.calibration or settings.data:
        _check_batched(model, example)
    calib_x = None
    calib_note = answer_note = None  # inputs that look like noise, or that the original answers alike: said
    if settings.calibration:
        from linrep_edge.method.calibrate import calibration_note, load_calibration

        calib_x = load_calibration(settings.calibration, example)  # shape checked before any work
        calib_note = calibration_note(calib_x, f"--calibration {settings.calibration}")
        answer_note = _one_answer_note(model, calib_x, f"--calibration {settings.calibration}")
    user = None
    if settings.data and settings.data not in VALIDATION_IMAGES:
        from linrep_edge.user_data import check_data, resolve_data

        user = resolve_data(settings.data, tuple(example.shape), seed=settings.seed)
        if not user.labelled and (settings.finetune_epochs > 0 or evaluate_on_test):
            raise LinRepError(f"--data {settings.data}: the data has no labels; for unlabelled inputs use "
                              f"--calibration {settings.data}")
        if user.labelled:
            check_data(user, model, example)  # input shape and class count against the model, before any work
    timings["check_s"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    choice = None
    if settings.budgeted:
        choice, sens, held, ref = _choose_budget(model, example, settings, source,
                                                 measure_on if measure_on is not None else calib_x, user,
                                                 show_progress)
        cmodel = choice.model
        timings["budget_s"] = time.perf_counter() - t0
    else:
        cmodel = compress_model(model, settings, show_progress)
        timings["compress_s"] = time.perf_counter() - t0
    train_ds: torch.utils.data.Dataset | None = None
    eval_loader: torch.utils.data.DataLoader | None = None
    prefix = ""
    if settings.data:
        if user is None:
            split, _, test = finetune_split(settings.data, settings.seed)
            train_ds = torch.utils.data.TensorDataset(split.x, split.y)
            eval_loader = test.loader(1000)
            prefix = ""
        else:
            train_ds = user.train
            eval_loader = torch.utils.data.DataLoader(user.val, batch_size=256)
            prefix = "val_"  # the user's data has no test split: report on its validation part
        if evaluate_on_test:
            acc[f"original_{prefix}accuracy"] = evaluate(model, eval_loader)
            acc[f"{prefix}accuracy_before_finetune"] = evaluate(cmodel, eval_loader)
        if settings.finetune_epochs > 0 and not int8:  # int8: fine-tuned with the int8 model in the loop, below
            from linrep_edge.method.distributed import TrainConfig, run_finetune

            assert train_ds is not None

            t1 = time.perf_counter()
            # the loop `linrep-edge finetune` runs (world size 1 here): the same a, b as compress → finetune → pack
            cfg = TrainConfig(settings.data, settings.finetune_epochs, settings.finetune_lr, FINETUNE_BATCH, settings.seed)
            run_finetune(cmodel, train_ds, cfg, show_progress=show_progress)
            timings["finetune_s"] = time.perf_counter() - t1
            if evaluate_on_test:
                acc[f"{prefix}accuracy_after_finetune"] = evaluate(cmodel, eval_loader)
    calib: dict[str, Any] = {}
    data_aware_report: dict[str, Any] = {}
    distil_note = None
    if calib_x is not None and settings.data_aware:
        from linrep_edge.method.calibrate import split_calibration
        from linrep_edge.method.data_aware import data_aware_refit

        t1 = time.perf_counter()
        fit_part = split_calibration(calib_x, seed=settings.seed)[0]  # the held-out part stays unseen
        data_aware_report = data_aware_refit(cmodel, model, fit_part, settings.data_aware, show_progress=show_progress)
        timings["data_aware_s"] = time.perf_counter() - t1
    if calib_x is not None and not trainable_parameters(cmodel):
        distil_note = ("nothing to distil on the calibration inputs: no conv is LinRep (--include/--exclude or "
                       "the model left none); they still set the int8 ranges and measure the fidelity")
    elif calib_x is not None:
        from linrep_edge.method.calibrate import distill_calibration

        t1 = time.perf_counter()
        calib = distill_calibration(cmodel, model, calib_x, epochs=settings.calibration_epochs,
                                    lr=settings.calibration_lr, feature_weight=settings.feature_weight,
                                    augment=settings.calibration_augment,
                                    temperature=settings.calibration_temperature,
                                    match_bn=settings.calibration_match_bn,
                                    seed=settings.seed, show_progress=show_progress)
        timings["calibration_s"] = time.perf_counter() - t1
        if evaluate_on_test and settings.data:
            acc["accuracy_after_calibration"] = evaluate(cmodel, eval_loader)
    if data_aware_report:
        calib["data_aware"] = data_aware_report
    if int8:
        from linrep_edge.integer.pack import CALIBRATION_IMAGES, DEFAULT_AB_BITS, calibration_subset, int8_graph

        t2 = time.perf_counter()
        ranges_from = (calib_x if calib_x is not None else measure_on if train_ds is None
                       else _inputs(train_ds, CALIBRATION_IMAGES, settings.seed))
        if ranges_from is None:  # the default model without --data: its own training images
            ranges_from = finetune_split("fashion-mnist", settings.seed)[0].x
        calib_in = calibration_subset(ranges_from, seed=settings.seed)
        bits = settings.ab_bits or DEFAULT_AB_BITS
        qat_data = train_ds if settings.finetune_epochs > 0 else None
        gi = int8_graph(cmodel, example, bits, calib_in, qat_data, settings.finetune_epochs, settings.finetune_lr,
                        FINETUNE_BATCH, settings.seed, show_progress=show_progress, layer_bits=layer_bits)
        gi.metadata = {**settings.metadata(), "ab_bits": bits, "source": source}
        budget_int8: dict[str, Any] = {}
        table_int8 = ""
        if choice is not None:
            from linrep_edge.method.budget import budget_summary, format_choice, int8_metadata

            gi.metadata = int8_metadata(settings, sens, choice.target, source)
        timings["int8_s"] = time.perf_counter() - t2
        blob = pack_graph(gi)
        if choice is not None:
            if settings.max_bytes is not None and len(blob) > settings.max_bytes:  # fine-tuning changes values only
                raise LinRepError(f"--max-bytes {settings.max_bytes}: the int8 blob is {len(blob)} bytes "
                                  f"(as assembled {len(choice.blob)})")
            budget_int8 = budget_summary(choice, sens, blob, held, ref, True)
            table_int8 = format_choice(sens, choice.plan, len(blob))
        graph = parse(blob).graph
        if evaluate_on_test and eval_loader is not None:
            from linrep_edge.integer.batch import int8_accuracy

            xs, ys = zip(*eval_loader)
            acc[f"int8_{prefix}accuracy"] = int8_accuracy(graph, torch.cat(xs).numpy(), torch.cat(ys).numpy())
        if calib_x is not None:  # the int8 model as packed, on the held-out calibration inputs
            calib.update(_int8_agreement(graph, model, calib_x, settings.seed))
        size_note = _int8_size_note(blob, cmodel, example, settings, source) if choice is None else None
        fidelity_note = (_compare_without_linrep(graph, len(blob), calib, model, example, calib_x, settings, calib_in,
                                                 source) if choice is None and calib_x is not None else None)
        linrep_note = _int8_linrep_note(blob, calib) if choice is None and fidelity_note is None else None
        notes = [n for n in (activations_note, calib_note, answer_note, distil_note, size_note, fidelity_note,
                              linrep_note) if n]
        return PackResult(blob, graph, cmodel, timings, acc, notes, calib, budget_int8, table_int8, "int8")
    t2 = time.perf_counter()
    budget: dict[str, Any] = {}
    table = ""
    if choice is not None:
        from linrep_edge.method.budget import budget_summary, format_choice, pack_plan

        tuned = settings.finetune_epochs > 0 or calib_x is not None
        blob = pack_plan(cmodel, example, settings, sens, choice.plan, choice.target, source) if tuned else choice.blob
        if settings.max_bytes is not None and len(blob) > settings.max_bytes:  # fine-tuning changes values only
            raise LinRepError(f"--max-bytes {settings.max_bytes}: the fine-tuned blob is {len(blob)} bytes "
                              f"(as assembled {len(choice.blob)})")
        budget = budget_summary(choice, sens, blob, held, ref, tuned)
        table = format_choice(sens, choice.plan, len(blob))
    else:
        blob = pack(cmodel, example, settings, source)
    timings["capture_pack_s"] = time.perf_counter() - t2
    graph = parse(blob).graph
    if calib_x is not None:
        from linrep_edge.graph.executor import GraphModel
        from linrep_edge.method.calibrate import agreement, split_calibration

        held = split_calibration(calib_x, seed=settings.seed)[1]
        calib.update({f"packed_{k}": v for k, v in agreement(GraphModel(graph), model, held).items()})
        calib["calibration_held_out"] = len(held)
    notes = [n for n in (activations_note, calib_note, answer_note, distil_note) if n]
    if choice is None and calib_x is not None:
        fidelity_note = _compare_without_linrep(graph, len(blob), calib, model, example, calib_x, settings, None,
                                                source)
        notes += [fidelity_note] if fidelity_note else []
    if not any(op.linrep is not None for op in graph.ops):
        notes.append("the model has no compressible conv (a Conv2d with kernel area > 1): every layer is stored "
                     "plainly (see --weights-dtype)")
    from linrep_edge.method.collect import conv_subclasses

    skipped = conv_subclasses(model)
    if skipped:
        notes.append(f"{len(skipped)} k×k conv(s) stay dense because they are subclasses of nn.Conv2d with a forward of "
                     f"their own ({', '.join(repr(n) for n in skipped[:3])}{', ...' if len(skipped) > 3 else ''}, "
                     f"{type(model.get_submodule(skipped[0])).__name__}): rewrite them as plain nn.Conv2d (with an "
                     "nn.ZeroPad2d before it for TF-style 'SAME' padding, as "
                     "linrep_edge.models.pretrained.plain_same_padding does) to compress them")
    notes += storage_notes(blob, cmodel, example, settings, source)
    return PackResult(blob, graph, cmodel, timings, acc, notes, calib, budget, table, "fp32")


def calibration_inputs(settings: PackSettings, source: str, measure_on: torch.Tensor | None = None) -> str | None:
    """Where int8 activation ranges would come from: --calibration's inputs, --data's training inputs, the
    inputs the caller measures on, or the default model's own training images (Fashion-MNIST, when its
    files are installed); None when there are none."""
    if settings.calibration:
        return f"--calibration {settings.calibration}"
    if settings.data:
        return f"--data {settings.data}"
    if measure_on is not None:
        return "the inputs measured on"
    if source == "default":
        from linrep_edge.datasets import fashion_mnist_present

        return "the default model's training images (Fashion-MNIST)" if fashion_mnist_present() else None
    return None


def _check_batched(model: nn.Module, example: torch.Tensor) -> None:
    """Calibration, fine-tuning and evaluation run the model on batches: a forward written for batch size 1
    (`x.view(1, ...)`) is one clear error here, naming the shape, before any work."""
    batch = example.expand(2, *example.shape[1:]).contiguous()
    hint = ("calibration and fine-tuning run batches: is its forward written for batch size 1 (a view or reshape "
            "with a literal 1)?")
    try:
        with torch.no_grad():
            y = model.eval()(batch)
    except Exception as exc:  # the user's own forward: its first line says what failed
        msg = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        raise LinRepError(f"the model fails on a batch of 2 inputs {tuple(batch.shape)} ({type(exc).__name__}: "
                          f"{msg}); {hint}") from None
    for t in y if isinstance(y, (tuple, list)) else (y,):
        if isinstance(t, torch.Tensor) and (t.dim() == 0 or t.shape[0] != 2):
            raise LinRepError(f"the model's output for a batch of 2 inputs {tuple(batch.shape)} has shape "
                              f"{tuple(t.shape)}, not 2 along its first dimension; {hint}")


ONE_ANSWER_SAMPLE = 256  # calibration inputs the original runs on to see whether it answers one class to all


def _one_answer_note(model: nn.Module, x: torch.Tensor, where: str) -> str | None:
    """`user_data.one_answer_note` on the original's outputs for up to ONE_ANSWER_SAMPLE inputs spread over x."""
    from linrep_edge.method.sensitivity import outputs_of
    from linrep_edge.user_data import one_answer_note

    sample = x[:: max(1, int(x.shape[0]) // ONE_ANSWER_SAMPLE)][:ONE_ANSWER_SAMPLE]
    return one_answer_note(outputs_of(model, sample)[0], where)


SMALL_INT8_BLOB = 64 * 1024  # below this, `pack_model` also sizes the fp32-activation blob (a capture: cheap)


def _int8_size_note(blob: bytes, cmodel: nn.Module, example: torch.Tensor, settings: PackSettings,
                    source: str) -> str | None:
    """A note when a small model's int8 blob is larger than its fp32-activation blob (what `--activations fp32`
    packs): per-channel quantisation parameters can outweigh what int8 weights save on a model of a few KB."""
    if len(blob) >= SMALL_INT8_BLOB:
        return None
    fp32_bytes = len(pack(cmodel, example, replace(settings, activations="fp32"), source))
    if fp32_bytes >= len(blob):
        return None
    return (f"the int8 blob ({len(blob)} B) is larger than this model with fp32 activations would be "
            f"({fp32_bytes} B, --activations fp32): on a model this small the per-channel quantisation parameters "
            "outweigh what int8 weights save (int8 still needs less RAM and no floating point on the device)")


def choose_activations(settings: PackSettings, graph: Graph, source: str,
                       measure_on: torch.Tensor | None = None) -> tuple[str, str | None]:
    """`--activations auto` (the default) resolved, once, for the model captured as `graph`: int8 where
    there are inputs to calibrate its ranges on (`calibration_inputs`), since int8 wins on the default model
    on flash, RAM and Cortex-M speed at the accuracy of TFLite int8 (README, "fp32 or int8 activations");
    fp32 otherwise, and for models with an op that has no int8 form or with an option only fp32 blobs
    have (--weights-dtype, --ab-scale layer). Returns ("fp32" | "int8", the note saying why fp32 was chosen
    and how to get int8, or None). An explicit "fp32" or "int8" is returned as it is (int8's own checks
    refuse what it cannot do)."""
    if settings.activations != "auto":
        return settings.activations, None
    if calibration_inputs(settings, source, measure_on) is None:
        return "fp32", ("activations fp32: int8 activations (a quarter of the RAM, faster on a Cortex-M) need "
                        "inputs to calibrate their ranges: give --calibration X.npy (a few hundred unlabelled "
                        "inputs) or --data for an int8 model, or pass --activations fp32 to keep fp32 without this note")
    fp32_only = [flag for flag, given in ((f"--weights-dtype {settings.weights_dtype}",
                                           settings.weights_dtype != "fp16"),
                                          ("--ab-scale layer", settings.ab_scale != "channel")) if given]
    if fp32_only:
        return "fp32", (f"activations fp32: {' and '.join(fp32_only)} only applies to fp32 activations (an int8 "
                        "model stores every weight as int8, with one a/b scale per output channel); leave it out "
                        "for an int8 model, or pass --activations fp32 to keep fp32 without this note")
    from linrep_edge.integer.quantize import check_supported

    try:
        check_supported(graph)
    except LinRepError as exc:  # "no int8 form for: OP (TYPE), ..."
        return "fp32", (f"activations fp32: {exc} (an int8 model needs every op in int8); pass --activations "
                        "fp32 to keep fp32 without this note")
    return "int8", None


LINREP_NOTE_SHARE = 0.10  # an int8 blob of at least LINREP_NOTE_MIN bytes in which LinRep saves less than this
LINREP_NOTE_MIN = 16 << 10  # share gets a note (a toy's blob is its fixed overhead)


def _int8_linrep_note(blob: bytes, calib: dict[str, Any]) -> str | None:
    """Issue 15 item 7: where LinRep saves little of an int8 blob (pointwise-heavy nets, e.g. MobileNetV1 on
    MLPerf Tiny VWW: its 3x3 depthwise kernels are 2 % of the weights), say how little, beside the fidelity it
    costs, and how to trade bytes for fidelity."""
    from linrep_edge.format.report import storage_report

    rows = [r for r in storage_report(blob).layers if r.kind == "LINREP_CONV2D"] if len(blob) >= LINREP_NOTE_MIN else []
    if not rows:
        return None
    packed, int8 = sum(r.packed_bytes for r in rows), sum(r.int8_bytes for r in rows)
    saved = int8 - packed
    if saved >= LINREP_NOTE_SHARE * len(blob):
        return None
    fid = ""
    if "packed_relative_output_error" in calib:
        agree = calib.get("packed_top1_agreement")
        fid = (" (on the held-out calibration inputs the packed model has "
               + (f"top-1 agreement{' per position' if calib.get('packed_answers_per_position') else ''} "
                  f"{100 * agree:.2f}% and " if agree is not None else "")
               + f"relative output error {calib['packed_relative_output_error']:.4f} against the original)")
    return (f"LinRep's {len(rows)} layer(s) take {packed:.0f} bytes where int8 kernels would take {int8} "
            f"(linrep-edge report): {saved:.0f} bytes saved, {100 * saved / len(blob):.1f}% of this blob{fid}; where "
            "fidelity matters more than "
            "these bytes, --min-agreement P chooses each layer's K or int8 from its measured sensitivity, and "
            "--exclude '*' keeps every conv int8")


FIDELITY_DOUBT_AGREEMENT = 0.95  # a packed model below this top-1 agreement on the held-out calibration inputs,
FIDELITY_DOUBT_ERROR = 0.1  # or above this relative output error, is compared with the model packed without LinRep
FIDELITY_NOTE_DROP = 0.05  # a note when LinRep loses this much more top-1 agreement than plain storage does


def _compare_without_linrep(graph: Graph, blob_bytes: int, calib: dict[str, Any], model: nn.Module,
                            example: torch.Tensor, calib_x: torch.Tensor, settings: PackSettings,
                            calib_in: np.ndarray | None, source: str) -> str | None:
    """When the packed model's held-out fidelity is in doubt (agreement under FIDELITY_DOUBT_AGREEMENT or error
    over FIDELITY_DOUBT_ERROR), the original packed without LinRep is measured alike (`calib["without_linrep"]`)
    and the fidelity note made; None otherwise."""
    agree = calib.get("packed_top1_agreement")
    if not ((agree is not None and agree < FIDELITY_DOUBT_AGREEMENT)
            or calib.get("packed_relative_output_error", 0.0) > FIDELITY_DOUBT_ERROR):
        return None
    calib["without_linrep"] = _plain_fidelity(model, example, calib_x, settings, calib_in, source)
    return _fidelity_note(graph, blob_bytes, calib, calib["without_linrep"])


def _plain_fidelity(model: nn.Module, example: torch.Tensor, calib_x: torch.Tensor, settings: PackSettings,
                    calib_in: np.ndarray | None, source: str) -> dict[str, Any]:
    """The original packed with no LinRep conv (what --exclude '*' packs: every conv int8 with int8
    activations (ranges from `calib_in`), else the settings' storage), measured as pack measures its blob:
    {"bytes", "packed_top1_agreement", "packed_relative_output_error"} on the held-out calibration inputs."""
    from linrep_edge.graph.executor import GraphModel
    from linrep_edge.method.calibrate import agreement, split_calibration

    if calib_in is not None:
        from linrep_edge.integer.pack import DEFAULT_AB_BITS, int8_graph

        g = int8_graph(model, example, settings.ab_bits or DEFAULT_AB_BITS, calib_in, show_progress=False)
        g.metadata = {**settings.metadata(), "ab_bits": settings.ab_bits or DEFAULT_AB_BITS, "source": source}
        blob = pack_graph(g)
        out: dict[str, Any] = _int8_agreement(parse(blob).graph, model, calib_x, settings.seed)
    else:
        blob = pack(model, example, settings, source)
        held = split_calibration(calib_x, seed=settings.seed)[1]
        out = {f"packed_{k}": v for k, v in agreement(GraphModel(parse(blob).graph), model, held).items()}
    return {**out, "bytes": len(blob)}


def _fidelity_note(graph: Graph | None, blob_bytes: int, calib: dict[str, Any], plain: dict[str, Any]) -> str | None:
    """Issue 15 item 7: where LinRep changes many more of the original's answers than plain storage would
    (at its default K, on a model whose kernels do not share templates well: MLPerf Tiny's CIFAR-10 ResNet at
    K = 16 agrees on 72 % of held-out inputs, plain int8 on 94 %), say so with both figures and the bytes, and
    how to trade."""
    agree, base = calib.get("packed_top1_agreement"), plain.get("packed_top1_agreement")
    err, base_err = calib["packed_relative_output_error"], plain["packed_relative_output_error"]
    if agree is not None and base is not None:
        if base - agree < FIDELITY_NOTE_DROP:
            return None
        fig, base_fig = f"top-1 agreement {100 * agree:.2f}%, error {err:.4f}", f"{100 * base:.2f}%, {base_err:.4f}"
    else:
        if err < 2 * base_err + FIDELITY_NOTE_DROP:
            return None
        fig, base_fig = f"relative output error {err:.4f}", f"{base_err:.4f}"
    saved = plain["bytes"] - blob_bytes
    return (f"LinRep costs this model much of its fidelity: on the {calib['calibration_held_out']} held-out "
            f"calibration inputs the packed model has {fig} against the original, where the model packed "
            f"without LinRep (--exclude '*': {plain['bytes']} B) has {base_fig}; LinRep saves {saved} B "
            f"({100 * saved / max(plain['bytes'], 1):.1f}%). To keep more of the original: --min-agreement P "
            "chooses each layer's K or plain storage from its measured sensitivity; --templates (more than "
            f"{_templates(graph)}) or --scope layer gives the kernels more templates")


def _templates(graph: Graph | None) -> str:
    """The graph's codebook sizes, as the fidelity note names them."""
    ks = sorted({int(c.size) for c in graph.codebooks}) if graph is not None else []
    return "K = " + "/".join(str(k) for k in ks) if ks else "the current K"


def _int8_agreement(graph: Graph, model: nn.Module, calib_x: torch.Tensor, seed: int) -> dict[str, float]:
    """`packed_*` of pack's calibration summary for an int8 blob: its top-1 agreement and relative output
    error against the original on the held-out calibration inputs, through the integer reference."""
    from linrep_edge.agreement import class_view
    from linrep_edge.method.budget import int8_outputs
    from linrep_edge.method.calibrate import split_calibration
    from linrep_edge.method.sensitivity import fidelity, outputs_of

    held = split_calibration(calib_x, seed=seed)[1]
    with torch.no_grad():
        ref = outputs_of(model, held)
    agree, err = fidelity(int8_outputs(graph, held), ref)
    out: dict[str, float] = {"packed_relative_output_error": err, "calibration_held_out": len(held)}
    if agree is not None:
        out["packed_top1_agreement"] = agree
        view = class_view(ref[0])
        if view is not None and view.shape[2] > 1:  # answers per position: as calibrate.agreement flags a dense head
            out["packed_answers_per_position"] = True
    return out


def _choose_budget(model: nn.Module, example: torch.Tensor, settings: PackSettings, source: str,
                   calib_x: torch.Tensor | None, user: Any, show_progress: bool):  # type: ignore[no-untyped-def]
    """--max-bytes / --min-agreement: measure each layer's candidates on the calibration inputs (the part
    distillation trains on), then choose; agreement is measured on the held-out part."""
    from linrep_edge.method.budget import budget_inputs, choose
    from linrep_edge.method.calibrate import split_calibration
    from linrep_edge.method.sensitivity import measure_sensitivity, one_thread, outputs_of

    x = budget_inputs(settings, example, calib_x, user, source)
    search, held = split_calibration(x, seed=settings.seed)
    sens = measure_sensitivity(model, example, search, settings, settings.budget_templates, show_progress,
                               cache=settings.budget_cache)
    with one_thread():
        ref = outputs_of(sens.base, held)
        return choose(sens, example, settings, held, ref, source, show_progress), sens, held, ref


def check_budget_settings(settings: PackSettings) -> None:
    """One clear error for options that do not go with a per-layer choice, before any work."""
    if settings.max_bytes is not None and settings.min_agreement is not None:
        raise LinRepError("--max-bytes and --min-agreement: give one (a byte budget, or an agreement target)")
    if settings.max_bytes is not None and settings.max_bytes <= 0:
        raise LinRepError(f"--max-bytes must be a positive number of bytes, got {settings.max_bytes}")
    if settings.min_agreement is not None and not 0.0 < settings.min_agreement <= 1.0:
        raise LinRepError(f"--min-agreement must be a fraction in (0, 1] (e.g. 0.97), got {settings.min_agreement}")
    if settings.budget_inputs < 10:
        raise LinRepError(f"--budget-inputs must be at least 10, got {settings.budget_inputs}")
    if not settings.budget_templates or not all(1 <= k <= 65536 for k in settings.budget_templates):
        raise LinRepError("--budget-templates: give candidate K values between 1 and 65536")
    if settings.activations == "int8" and settings.layer_ab_bits:
        raise LinRepError("--layer-ab-bits with --max-bytes / --min-agreement: the per-layer choice picks K per "
                          "layer at one a/b width (--ab-bits); leave --layer-ab-bits out")
    for opt, bad in (("--templates-ratio", settings.templates_ratio is not None),
                     ("--prune-sparsity", bool(settings.prune_sparsity)),
                     ("--prune-threshold", bool(settings.prune_threshold)),
                     ("--cap-templates", settings.cap_templates)):
        if bad:
            raise LinRepError(f"{opt} with --max-bytes / --min-agreement: K is chosen per layer (from "
                              "--budget-templates, capped by each layer's kernels); leave the option out")


def parse_layer_bits(items: Sequence[str] | None) -> dict[str, int]:
    """{"layer3.conv2": 4} from ["layer3.conv2=4"]."""
    out: dict[str, int] = {}
    for item in items or ():
        name, sep, bits = item.rpartition("=")
        if not sep or not name or not bits.isdigit():
            raise LinRepError(f"--layer-ab-bits wants LAYER=BITS, got {item!r}")
        check_bits(int(bits))
        out[name] = int(bits)
    return out


def _inputs(ds: torch.utils.data.Dataset | None, limit: int, seed: int) -> torch.Tensor:
    """The inputs of a data set (items (x, y), or x alone when unlabelled), stacked: `limit` of them drawn as
    `calibration_subset` draws them (all when fewer), so that only those are read."""
    if isinstance(ds, torch.utils.data.TensorDataset):
        return ds.tensors[0]
    assert ds is not None
    n = len(ds)  # type: ignore[arg-type]
    idx = range(n) if n <= limit else np.sort(np.random.default_rng(seed).choice(n, limit, replace=False)).tolist()
    items = [ds[i] for i in idx]
    return torch.stack([it[0] if isinstance(it, (tuple, list)) else it for it in items]).float()


def storage_notes(blob: bytes, cmodel: nn.Module, example: torch.Tensor, settings: PackSettings,
                  source: str = "") -> list[str]:
    """Size advice (issue 15 item 7): what --weights-dtype int8 would save when LinRep covers less than half
    of the weights; a warning when integer a/b make the blob larger than fp16 a/b would."""
    from linrep_edge.format.report import storage_report

    notes = []
    rep = storage_report(blob)
    if (settings.weights_dtype != "int8" and rep.conv_fp32_bytes < 0.5 * rep.fp32_bytes
            and rep.int8_other_tensors_saving_bytes > 0):
        share = rep.conv_fp32_bytes / rep.fp32_bytes if rep.fp32_bytes else 0.0
        notes.append(f"LinRep covers {100 * share:.0f}% of the weight bytes (the rest: 1x1 convs, linear layers); "
                     f"--weights-dtype int8 would save {rep.int8_other_tensors_saving_bytes} bytes "
                     f"({len(blob)} -> {len(blob) - rep.int8_other_tensors_saving_bytes})")
    if settings.ab_bits:
        layers = [m for m in cmodel.modules() if isinstance(m, LinRepConv2d)]
        saved = [m.ab_bits for m in layers]
        try:
            for m in layers:
                m.ab_bits = 0
            fp16 = len(pack(cmodel, example, settings, source))
        finally:
            for m, bits in zip(layers, saved):
                m.ab_bits = bits
        if fp16 < len(blob):
            notes.append(f"warning: --ab-bits {settings.ab_bits} makes the blob larger than fp16 a/b would "
                         f"({len(blob)} bytes vs {fp16}): the per-channel scales cost more than they save on "
                         "layers this small; leave --ab-bits out or try --ab-scale layer")
    return notes
