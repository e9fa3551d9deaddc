"""`linrep-edge compress` and `finetune`: the split pipeline (compress → finetune → pack) around the
checkpoint format of method/checkpoint.py; `finetune` is torchrun-aware (method/distributed.py)."""

from __future__ import annotations

import argparse
import time
from dataclasses import replace
from pathlib import Path

from linrep_edge.cli.output import emit
from linrep_edge.errors import Interrupted, LinRepError


def _check_output(path: str) -> Path:
    out = Path(path)
    if not out.parent.exists():
        raise LinRepError(f"-o {out}: output directory {out.parent} does not exist")
    return out


def cmd_compress(args: argparse.Namespace) -> int:
    from linrep_edge.cli.pack import settings_from_args
    from linrep_edge.method.checkpoint import checkpoint_of, source_from_cli
    from linrep_edge.method.compress import representation_of
    from linrep_edge.pipeline import compress_model

    out = _check_output(args.output)
    model, _, source = source_from_cli(args.model, args.default, args.weights, args.input_shape)
    settings = settings_from_args(args)
    t0 = time.perf_counter()
    cmodel = compress_model(model, settings, show_progress=not args.quiet)
    secs = time.perf_counter() - t0
    data = checkpoint_of(cmodel, source, settings).to_bytes()
    from linrep_edge.atomic import write_atomic

    write_atomic(out, data)
    rep = representation_of(cmodel)
    ab = settings.ab_bits or 16
    summary = {"output": str(out), "bytes_written": len(data), "linrep_layers": len(rep.layers),
               "codebooks": len(rep.codebooks), "conv_compression_vs_fp32": rep.conv_compression_vs_fp32(ab),
               "compress_s": secs}
    emit(args, summary, lambda: f"wrote {out}: {len(rep.layers)} LinRep layers, {len(rep.codebooks)} codebook(s), "
                                f"conv {summary['conv_compression_vs_fp32']:.2f}x vs fp32 (before fine-tuning)")
    return 0


def cmd_finetune(args: argparse.Namespace) -> int:
    from linrep_edge.method.distributed import init_from_env, shutdown

    ctx = init_from_env(args.backend)
    try:
        return _finetune(args, ctx)
    finally:
        shutdown(ctx)


def _finetune(args: argparse.Namespace, ctx) -> int:  # type: ignore[no-untyped-def]
    import torch

    from linrep_edge.method.checkpoint import checkpoint_of, file_digest, load_checkpoint
    from linrep_edge.method.distributed import TrainConfig, evaluate_sharded, run_finetune
    from linrep_edge.user_data import check_data, resolve_data

    if args.threads is not None:
        torch.set_num_threads(args.threads)
    out = _check_output(args.output)
    ck = load_checkpoint(args.checkpoint)
    resume = None
    if args.resume:
        rk = load_checkpoint(args.resume)
        if rk.train is None:
            raise LinRepError(f"--resume {args.resume}: a checkpoint from `compress`, not from an interrupted `finetune`")
        cmodel, example = rk.build_compressed()
        resume = rk.train
    else:
        cmodel, example = ck.build_compressed()
    seed = ck.settings.seed
    data = resolve_data(args.data, tuple(example.shape), seed=seed, val_size=args.val_size, limit=args.limit,
                        transform=args.transform, labels=args.labels)
    check_data(data, cmodel, example, args.distill)
    teacher = ck.build_original()[0] if args.distill else None
    cfg = TrainConfig(args.data, args.epochs, args.lr, args.batch, seed, args.distill, args.val_size, args.limit,
                      args.transform, args.labels, file_digest(args.checkpoint))
    settings = replace(ck.settings, finetune_epochs=ck.settings.finetune_epochs + args.epochs,
                       finetune_lr=args.lr, data=data.name, threads=torch.get_num_threads())

    def save(state: dict) -> None:  # rank 0 only
        checkpoint_of(cmodel, ck.source, settings, train=state).save(out)

    try:
        m = run_finetune(cmodel, data.train, cfg, ctx, resume=resume, teacher=teacher,
                         checkpoint_every=args.checkpoint_every, save=save, show_progress=not args.quiet)
    except Interrupted as exc:
        where = f"; the checkpoint {out} holds it: continue with the same command and --resume {out}"
        raise Interrupted(exc.signum, f"{exc}{where}") from None
    val = None if args.no_validate else evaluate_sharded(cmodel, data.val, ctx)
    summary = {"output": str(out), "world_size": ctx.world_size, "backend": ctx.backend or "none",
               "threads_per_process": torch.get_num_threads(), "epochs": args.epochs, "steps": m["steps"],
               "resumed_at_step": m["steps"] - m["steps_this_run"] if resume else None,
               "train_items": len(data.train), "samples_per_second": m["samples_per_second"],
               "train_seconds": m["train_seconds"], "train_loss": [h["loss"] for h in m["history"]],
               "val_accuracy": val}
    if ctx.is_main:
        acc = "" if val is None else f", validation accuracy {100 * val:.2f}%"
        emit(args, summary, lambda: f"wrote {out}: {m['steps']} steps on {ctx.world_size} process(es), "
                                    f"{m['samples_per_second']:.0f} samples/s{acc}")
    return 0
