"""Commands on a .lre blob: report, inspect, export-c, verify, mcu-bench."""

from __future__ import annotations

import argparse
from pathlib import Path

from linrep_edge.cli.output import emit
from linrep_edge.errors import LinRepError


def cmd_report(args: argparse.Namespace) -> int:
    from linrep_edge.atomic import write_atomic
    from linrep_edge.format.reader import load_bytes
    from linrep_edge.format.report import format_report, plot_report, storage_report

    blob = load_bytes(args.file)
    rep = storage_report(blob, args.file)
    if args.plot:
        write_atomic(args.plot, plot_report(rep, args.plot))
    emit(args, rep.to_json(), lambda: format_report(rep, f"{args.file}")
         + (f"\nplot written to {args.plot}" if args.plot else ""))
    return 0


def cmd_inspect(args: argparse.Namespace) -> int:
    from linrep_edge.format.inspect import describe_blob
    from linrep_edge.format.reader import load_bytes, parse

    blob = load_bytes(args.file)
    parsed = parse(blob, args.file)
    text, obj = describe_blob(parsed, blob)
    emit(args, obj, lambda: text)
    return 0


def cmd_export_c(args: argparse.Namespace) -> int:
    from linrep_edge.atomic import write_atomic
    from linrep_edge.format.export_c import blob_to_c_header
    from linrep_edge.format.reader import load_bytes, parse

    blob = load_bytes(args.file)
    parse(blob, args.file)  # refuse to embed a corrupt blob
    name = args.name or "lr_model"
    write_atomic(args.output, blob_to_c_header(blob, name, Path(args.file).name).encode())
    print(f"wrote {args.output}: {name}[{len(blob)}] aligned 16")
    return 0


def cmd_verify(args: argparse.Namespace) -> int:
    from linrep_edge.datasets import load_dataset
    from linrep_edge.format.reader import load_bytes
    from linrep_edge.runtime.verify import format_result, load_inputs, verify

    blob = load_bytes(args.file)
    if args.inputs:
        if args.data:
            raise LinRepError("give either --data or --inputs, not both")
        x, y = load_inputs(args.inputs, args.labels)
    else:
        if args.labels:
            raise LinRepError("--labels goes with --inputs")
        test = load_dataset(args.data or "fashion-mnist").test.take(args.limit)
        x, y = test.x.numpy(), test.y.numpy()
    if args.limit is not None:
        x, y = x[: args.limit], (y[: args.limit] if y is not None else None)
    original = None
    if args.model:
        from linrep_edge.models.loading import load_factory, load_pt2

        if args.model.endswith(".pt2") or Path(args.model).exists():
            original, _ = load_pt2(args.model)
        else:
            shape = args.input_shape or ",".join(["1", *(str(d) for d in x.shape[1:])])
            original, _ = load_factory(args.model, args.weights, shape)
    res = verify(blob, x, y, args.file, conv_path=args.conv_path, original=original)
    emit(args, res, lambda: format_result(res))
    return 0


def cmd_mcu_bench(args: argparse.Namespace) -> int:
    from linrep_edge.runtime.mcu import format_result, mcu_bench
    from linrep_edge.format.reader import load_bytes, parse

    blob = load_bytes(args.file)
    parse(blob, args.file)
    res = mcu_bench(blob, args.target, timeout=args.timeout)
    emit(args, res, lambda: format_result(res))
    return 0
