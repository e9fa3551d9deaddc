"""Commands on a .lre blob: report, inspect, export-c, export-project, verify, mcu-bench."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, Any

from linrep_edge.cli.output import emit
from linrep_edge.errors import LinRepError
from linrep_edge.format.text import shown

if TYPE_CHECKING:
    import numpy as np


def _max(args: argparse.Namespace) -> int:
    from linrep_edge.format.transport import DEFAULT_MAX_BYTES

    return getattr(args, "max_size", None) or DEFAULT_MAX_BYTES


def cmd_status(args: argparse.Namespace) -> int:
    """`linrep-edge status [CODE ...]`: each lr_status's name and text (linrep.h's one list, through abi.py)."""
    from linrep_edge.runtime.abi import STATUS

    codes = args.codes or sorted(STATUS, reverse=True)
    unknown = [c for c in codes if c not in STATUS]
    if unknown:
        raise LinRepError(f"{unknown[0]} is not an lr_status (codes run from 0 down to {min(STATUS)})")
    rows = [{"code": c, "name": STATUS[c][0], "text": STATUS[c][1]} for c in codes]
    emit(args, rows, lambda: "\n".join(f"{r['code']:>4}  {r['name']:<28} {r['text']}" for r in rows))
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from linrep_edge.atomic import check_output, write_atomic
    from linrep_edge.format.reader import load_bytes
    from linrep_edge.format.report import format_report, plot_report, storage_report

    if args.plot:
        check_output(args.plot)
    blob = load_bytes(args.file, _max(args))
    rep = storage_report(blob, shown(args.file))
    if args.plot:
        write_atomic(args.plot, plot_report(rep, args.plot))
    emit(args, rep.to_json(), lambda: format_report(rep, shown(args.file))
         + (f"\nplot written to {shown(args.plot)}" if args.plot else ""))
    return 0


def cmd_inspect(args: argparse.Namespace) -> int:
    from linrep_edge.format.inspect import describe_blob
    from linrep_edge.format.reader import load_bytes, parse

    blob = load_bytes(args.file, _max(args))
    parsed = parse(blob, shown(args.file), weights=False)
    text, obj = describe_blob(parsed, blob)
    emit(args, obj, lambda: text)
    return 0


def cmd_export_c(args: argparse.Namespace) -> int:
    from linrep_edge.atomic import check_output, write_atomic
    from linrep_edge.format.export_c import blob_to_c_header, check_identifier, default_identifier
    from linrep_edge.format.reader import load_bytes, parse

    name = check_identifier(args.name) if args.name is not None else default_identifier(Path(args.file).name)
    check_output(args.output)
    blob = load_bytes(args.file, _max(args))
    parsed = parse(blob, shown(args.file), weights=False)  # refuse to embed a corrupt blob
    g = parsed.graph
    ins, outs = g.tensors[g.input].shape, [g.tensors[t].shape for t in g.results]
    write_atomic(args.output, blob_to_c_header(blob, name, Path(args.file).name, parsed.check.arena_bytes,
                                               ins, outs).encode())
    summary = {"output": shown(args.output), "identifier": name, "macro_prefix": name.upper(),
               "blob_bytes": len(blob), "arena_bytes": parsed.check.arena_bytes, "input_shape": list(ins),
               "output_shape": list(outs[0]), "output_shapes": [list(s) for s in outs], "align": 16}
    emit(args, summary, lambda: f"wrote {shown(args.output)}: {name}[{len(blob)}] aligned 16, arena "
                                f"{parsed.check.arena_bytes} bytes ({name.upper()}_ARENA_SIZE)")
    return 0


def _check_kernels(kernels: str) -> None:
    """--kernels: a kernel build runtime.mk knows (opt, ref, or a '+'-list of conv, linear, add, linrep, act), before
    any work; runtime.mk's reason otherwise."""
    from linrep_edge.runtime.binding import build_tag

    try:
        build_tag(kernels)
    except LinRepError as exc:
        raise LinRepError(f"--kernels: {exc}") from None


def cmd_export_project(args: argparse.Namespace) -> int:
    from linrep_edge.format.export_c import check_identifier, default_identifier
    from linrep_edge.format.reader import load_bytes, parse
    from linrep_edge.runtime.project import export_project

    _check_kernels(args.kernels)
    name = check_identifier(args.name) if args.name is not None else default_identifier(Path(args.file).name)
    blob = load_bytes(args.file, _max(args))
    parse(blob, shown(args.file), weights=False)  # refuse to embed a corrupt blob
    x = None
    if args.input:
        from linrep_edge.runtime.verify import load_inputs

        x, _ = load_inputs(args.input, None)
        if len(x) == 0:
            raise LinRepError(f"--input {shown(args.input)}: holds no input")
        x = x[0]
    res = export_project(blob, Path(args.output), args.target, name, args.file, x, force=args.force,
                         linrep_path=args.linrep_path, status_texts=not args.no_status_texts,
                         offline_plan=args.offline_plan, kernels=args.kernels, ram_limit=args.ram_limit,
                         fast_paths=args.fast_paths)
    emit(args, res, lambda: f"wrote {shown(args.output)}: the runtime ({res['runtime_sources']} sources), "
                            f"model/{name}.h, main.c, CMakeLists.txt (linrep::runtime), Makefile for {args.target}; "
                            f"build: cmake -S {shown(args.output)} -B build && cmake --build build --target run")
    return 0


def _original_model(args: argparse.Namespace, item_shape: tuple[int, ...]) -> Any:
    """verify's --model (None without it), for a file whose model takes inputs of `item_shape`: a factory's input
    shape defaults to it; a model that takes another is refused here, naming both."""
    if not args.model:
        return None
    from linrep_edge.models.loading import load_model, model_kind
    from linrep_edge.runtime.binding import fits_input

    shape = args.input_shape
    if shape is None and model_kind(args.model) == "factory":
        shape = ",".join(["1", *(str(d) for d in item_shape)])
    model, example, _ = load_model(args.model, args.weights, shape)
    takes = tuple(int(d) for d in example.shape[1:])
    if not fits_input(tuple(item_shape), takes):
        raise LinRepError(f"--model {shown(args.model)} takes inputs {takes}, {shown(args.file)} takes "
                          f"{tuple(item_shape)}: is it the model this file was made from?")
    return model


def _inputs_name(args: argparse.Namespace) -> str:
    return f"--inputs {shown(args.inputs)}" if args.inputs else f"--data {args.data or 'fashion-mnist'}"


def _check_builtin_fits(args: argparse.Namespace, spec: str, has: tuple[int, ...], takes: tuple[int, ...]) -> None:
    """A built-in test split (the default fashion-mnist when no inputs are given) must fit the file's input:
    else one error naming both shapes and the options that give the user's own inputs."""
    from linrep_edge.runtime.binding import fits_input

    if fits_input(has, takes):
        return
    given = f"--data {spec} gives" if args.data else f"no inputs given: the default, --data {spec}, gives"
    shape = ", ".join(str(d) for d in takes)
    raise LinRepError(f"{given} inputs {has}, {shown(args.file)} takes {takes}: give your own inputs with "
                      f"--inputs X.npy (float32, (N, {shape})) or --data (an image folder, FILE.npz with arrays "
                      "x, y, or package.module:function)")


def _data_arrays(args: argparse.Namespace, input_shape: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray | None]:
    """verify --data's inputs and labels: a built-in test split, or every item of the user's data set."""
    from linrep_edge.datasets import DATASETS, load_dataset

    spec = args.data or "fashion-mnist"
    if spec in DATASETS:
        if args.labels:
            raise LinRepError("--labels goes with --inputs or --data FILE.npy")
        test = load_dataset(spec).test.take(args.limit)
        _check_builtin_fits(args, spec, tuple(test.x.shape[1:]), input_shape)
        return test.x.numpy(), test.y.numpy()
    from linrep_edge.user_data import eval_arrays

    return eval_arrays(spec, (1, *input_shape), labels=args.labels, limit=args.limit)


def cmd_verify_tflite(args: argparse.Namespace) -> int:
    """`verify model.tflite`: our C runtime vs TFLite Micro (and LiteRT-reference) byte for byte."""
    from linrep_edge.runtime.verify_tflite import format_result, tflite_input_shape, verify_tflite

    real = None
    takes = tflite_input_shape(args.file)
    if args.inputs:
        from linrep_edge.runtime.verify import load_inputs

        # images as pack --calibration takes them (uint8 scaled, NHWC made NCHW): the imported model is NCHW
        real, _ = load_inputs(args.inputs, None, input_shape=takes)
    elif args.data:
        real, _ = _data_arrays(args, takes)
    if real is not None and args.limit is not None:
        real = real[: args.limit]
    original = _original_model(args, takes)
    res = verify_tflite(args.file, n=args.n, seed=args.seed, real=real, shown=shown(args.file), original=original,
                        inputs_name=_inputs_name(args))
    emit(args, res, lambda: format_result(res))
    return 0 if res["verdict"] == "pass" else 1


def cmd_verify(args: argparse.Namespace) -> int:
    from linrep_edge.format.reader import load_bytes, parse

    if args.file.lower().endswith(".tflite"):
        return cmd_verify_tflite(args)
    blob = load_bytes(args.file, _max(args))
    parsed = parse(blob, shown(args.file), max_bytes=_max(args))  # refuse a bad blob before loading torch or data
    from linrep_edge.runtime.verify import format_result, load_inputs, verify

    if args.inputs:
        if args.data:
            raise LinRepError("give either --data or --inputs, not both")
        g = parsed.graph  # images as pack --calibration takes them (uint8, NHWC, (N, H, W))
        x, y = load_inputs(args.inputs, args.labels, input_shape=tuple(g.tensors[g.input].shape))
    else:
        g = parsed.graph
        x, y = _data_arrays(args, tuple(g.tensors[g.input].shape))
    if args.limit is not None:
        x, y = x[: args.limit], (y[: args.limit] if y is not None else None)
    if len(x) == 0:
        raise LinRepError("no inputs to verify (an empty input set proves nothing)")
    res = verify(blob, x, y, shown(args.file), conv_path=args.conv_path, max_bytes=_max(args), parsed=parsed,
                 original=_original_model(args, tuple(parsed.graph.tensors[parsed.graph.input].shape)),
                 inputs_name=_inputs_name(args))
    emit(args, res, lambda: format_result(res))
    return 0 if res["verdict"] == "pass" else 1


def _targets(chosen: list[str], int8: bool) -> list[str]:
    """--target's cores in order, once each; "all": every core the blob's kind runs on."""
    every = ["cortex-m4", "cortex-m7", "cortex-m33"] + (["cortex-m3"] if int8 else [])
    out: list[str] = []
    for t in chosen:
        for u in every if t == "all" else [t]:
            if u not in out:
                out.append(u)
    return out


def cmd_mcu_bench(args: argparse.Namespace) -> int:
    from linrep_edge.runtime.mcu import format_result, mcu_bench
    from linrep_edge.format.reader import load_bytes, parse

    _check_kernels(args.kernels)
    blob = load_bytes(args.file, _max(args))
    int8 = parse(blob, shown(args.file), max_bytes=_max(args)).graph.is_int8
    targets = _targets(args.target, int8)
    if int8:  # the int8 rows: lr_run_i8
        from linrep_edge.runtime.mcu_int8 import format_result_int8, format_side_by_side, mcu_bench_int8

        res8 = [mcu_bench_int8(blob, t, timeout=max(args.timeout, 300.0), ram_limit=args.ram_limit,
                               kernels=args.kernels, profile=args.profile) for t in targets]
        if len(res8) == 1:
            emit(args, res8[0], lambda: format_result_int8(res8[0]))
        else:
            emit(args, {"targets": res8}, lambda: format_side_by_side(res8))
        return 0
    if "cortex-m3" in targets:
        raise LinRepError("--target cortex-m3 (no FPU) runs int8 models only")
    if args.kernels != "opt":
        raise LinRepError(f"--kernels {args.kernels}: int8 models only (fp32 models run the reference kernels)")
    res = [mcu_bench(blob, t, timeout=args.timeout, profile=args.profile) for t in targets]
    if len(res) == 1:
        emit(args, res[0], lambda: format_result(res[0]))
    else:
        emit(args, {"targets": res}, lambda: "\n\n".join(format_result(r) for r in res))
    return 0
