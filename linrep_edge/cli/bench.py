"""`linrep-edge bench ...` and `compare`: the benchmarks, each a thin layer over its module in bench/."""

from __future__ import annotations

import argparse
import shlex
from pathlib import Path

from linrep_edge.cli.output import emit


def cmd_bench_accuracy(args: argparse.Namespace) -> int:
    from linrep_edge.bench import accuracy

    res = accuracy.run(args.templates, args.distance, args.scope, args.epochs, args.lr, args.seeds,
                       show_progress=not args.quiet)
    emit(args, res, lambda: accuracy.format_result(res))
    return 0


def cmd_bench_pareto(args: argparse.Namespace) -> int:
    from linrep_edge.atomic import check_output, write_atomic
    from linrep_edge.bench import pareto

    if args.plot:
        check_output(args.plot)  # before the long run
    res = pareto.run(args.templates, args.ab_bits, args.sparsity, args.epochs, args.lr, args.seed, args.test_images,
                     show_progress=not args.quiet, activations=args.activations)
    if args.plot:
        write_atomic(args.plot, pareto.plot(res))
    emit(args, res["points"] if not args.full_json else res, lambda: pareto.format_result(res))
    return 0


def cmd_bench_cluster(args: argparse.Namespace) -> int:
    from linrep_edge.bench import cluster

    rows = cluster.run(args.kernels, args.templates, args.distance, args.seed, show_progress=not args.quiet)
    emit(args, rows, lambda: cluster.format_rows(rows))
    return 0


def cmd_bench_runtime(args: argparse.Namespace) -> int:
    from linrep_edge.bench import host_runtime as runtime
    from linrep_edge.datasets import load_fashion_mnist
    from linrep_edge.format.reader import load_bytes

    if args.file:
        blob = load_bytes(args.file)
    else:
        from linrep_edge.models.loading import load_default
        from linrep_edge.pipeline import PackSettings, pack_model

        blob = pack_model(*load_default(), PackSettings(templates=16, activations="fp32"), "default",
                          show_progress=not args.quiet).blob
    x = load_fashion_mnist().test.x[: args.images].numpy()
    res = runtime.run(blob, x, args.rounds)
    emit(args, res, lambda: runtime.format_result(res))
    return 0


def cmd_compare(args: argparse.Namespace) -> int:
    from linrep_edge.atomic import check_output, write_atomic
    from linrep_edge.bench import compare

    for out in (args.markdown, args.plot):
        if out:
            check_output(out)  # before the long run
    res = compare.run(args.templates, args.epochs, args.lr, args.seed, args.lut_bits, args.calibration_images,
                      args.test_images, args.latency_images, args.latency_rounds, show_progress=not args.quiet,
                      int8_templates=args.int8)
    command = " ".join(["linrep-edge", *(shlex.quote(a) for a in args.command_line)])
    if args.markdown:
        write_atomic(args.markdown, compare.markdown(res, command).encode())
    if args.plot:
        write_atomic(args.plot, compare.plot(res, args.plot))
    emit(args, res, lambda: compare.format_result(res) + (f"\nwrote {args.markdown}" if args.markdown else ""))
    return 0


def cmd_bench_speed(args: argparse.Namespace) -> int:
    from linrep_edge.atomic import check_output, write_atomic
    from linrep_edge.bench import speed

    if args.plot:
        check_output(args.plot)  # before the long run
    res = speed.run(args.settings, args.epochs, args.lr, args.seed, mcu=not args.no_mcu,
                    latency_images=args.images, rounds=args.rounds, show_progress=not args.quiet)
    if args.plot:
        write_atomic(Path(args.plot), speed.plot(res))
    emit(args, res, lambda: speed.format_result(res))
    return 0


def cmd_bench_scaling(args: argparse.Namespace) -> int:
    from linrep_edge.bench import scaling

    res = scaling.run(args.procs, args.samples, args.batch, args.data, show_progress=not args.quiet)
    emit(args, res, lambda: scaling.format_result(res))
    return 0
