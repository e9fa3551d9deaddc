"""The `linrep-edge` command line. Each subcommand is a thin layer over one module.

User errors (LinRepError, bad files, bad options) print one line on stderr and exit with code 2;
machine-readable output comes with --json; long steps show progress bars on a terminal.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path
from typing import Any, Callable

from .errors import LinRepError

EPILOG = """examples:
  linrep-edge pack --default --templates 16 --seed 0 -o m.lre
  linrep-edge pack --default --templates 16 --finetune-epochs 1 --data fashion-mnist -o m.lre
  linrep-edge pack mypkg.models:make_net --weights net.pt --input-shape 1,3,32,32 -o net.lre
  linrep-edge pack program.pt2 --templates 64 -o net.lre.zst
  linrep-edge report m.lre --plot m.png
  linrep-edge inspect m.lre
  linrep-edge export-c m.lre -o model_blob.h
  linrep-edge verify m.lre --data fashion-mnist
  linrep-edge mcu-bench m.lre --target cortex-m4
  linrep-edge bench accuracy --templates 16 --distance signfree --scope global --json
  linrep-edge bench cluster --kernels 1000000 --templates 256
"""


def _print_json(obj: Any) -> None:
    print(json.dumps(obj, indent=2, sort_keys=False, default=float))


# -- pack --------------------------------------------------------------------------------------------
def cmd_pack(args: argparse.Namespace) -> int:
    from .atomic import write_atomic
    from .loading import load_default, load_factory, load_pt2
    from .pipeline import PackSettings, pack_model
    from .report import storage_report
    from .transport import zstd

    out = Path(args.output)
    if args.default == bool(args.model):
        raise LinRepError("give either --default or a MODEL (file.pt2 or package.module:factory), not both or neither")
    if not out.parent.exists():
        raise LinRepError(f"-o {out}: output directory {out.parent} does not exist")
    if args.default:
        model, example, source = *load_default(), "default"
    elif args.model.endswith(".pt2") or Path(args.model).exists():
        model, example = load_pt2(args.model)
        source = args.model
    else:
        model, example = load_factory(args.model, args.weights, args.input_shape)
        source = args.model
    settings = PackSettings(args.templates, args.distance, args.scope, args.seed, args.codebook_dtype,
                            args.weights_dtype, args.include, args.exclude, args.finetune_epochs, args.lr, args.data,
                            args.cap_templates, 0 if args.ab_bits == 16 else args.ab_bits, args.ab_scale,
                            args.prune_sparsity, args.prune_threshold, args.templates_ratio)
    res = pack_model(model, example, settings, source, evaluate_on_test=args.evaluate, show_progress=not args.quiet)
    data = zstd(res.blob) if out.name.endswith(".zst") else res.blob
    write_atomic(out, data)
    rep = storage_report(res.blob, str(out))
    summary = {"output": str(out), "bytes_written": len(data), "blob_bytes": len(res.blob),
               "conv_compression_vs_fp32": rep.conv_compression_vs_fp32,
               "model_compression_vs_fp32": rep.model_compression_vs_fp32, **res.accuracy, **res.timings}
    if args.json:
        _print_json(summary)
    else:
        acc = "".join(f", {k.replace('_', ' ')} {100 * v:.2f}%" for k, v in res.accuracy.items())
        print(f"wrote {out}: {len(data)} bytes (conv {rep.conv_compression_vs_fp32:.2f}x, "
              f"model {rep.model_compression_vs_fp32:.2f}x vs fp32{acc})")
    return 0


# -- report / inspect / export-c -----------------------------------------------------------------------
def cmd_report(args: argparse.Namespace) -> int:
    from .atomic import write_atomic
    from .reader import load_bytes
    from .report import format_report, plot_report, storage_report

    blob = load_bytes(args.file)
    rep = storage_report(blob, args.file)
    if args.plot:
        write_atomic(args.plot, plot_report(rep, args.plot))
    if args.json:
        _print_json(rep.to_json())
    else:
        print(format_report(rep, f"{args.file}"))
        if args.plot:
            print(f"plot written to {args.plot}")
    return 0


def cmd_inspect(args: argparse.Namespace) -> int:
    from .inspect_blob import describe_blob
    from .reader import load_bytes, parse

    blob = load_bytes(args.file)
    parsed = parse(blob, args.file)
    text, obj = describe_blob(parsed, blob)
    if args.json:
        _print_json(obj)
    else:
        print(text)
    return 0


def cmd_export_c(args: argparse.Namespace) -> int:
    from .atomic import write_atomic
    from .export_c import blob_to_c_header
    from .reader import load_bytes, parse

    blob = load_bytes(args.file)
    parse(blob, args.file)  # refuse to embed a corrupt blob
    name = args.name or "lr_model"
    write_atomic(args.output, blob_to_c_header(blob, name, Path(args.file).name).encode())
    print(f"wrote {args.output}: {name}[{len(blob)}] aligned 16")
    return 0


def cmd_verify(args: argparse.Namespace) -> int:
    from .data import load_dataset
    from .reader import load_bytes
    from .verify import format_result, load_inputs, verify

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
    res = verify(blob, x, y, args.file, conv_path=args.conv_path)
    if args.json:
        _print_json(res)
    else:
        print(format_result(res))
    return 0


# -- bench ---------------------------------------------------------------------------------------------
def cmd_bench_accuracy(args: argparse.Namespace) -> int:
    from .bench import accuracy

    res = accuracy.run(args.templates, args.distance, args.scope, args.epochs, args.lr, args.seeds,
                       show_progress=not args.quiet)
    if args.json:
        _print_json(res)
    else:
        print(accuracy.format_result(res))
    return 0


def cmd_bench_pareto(args: argparse.Namespace) -> int:
    from .atomic import write_atomic
    from .bench import pareto

    res = pareto.run(args.templates, args.ab_bits, args.sparsity, args.epochs, args.lr, args.seed, args.test_images,
                     show_progress=not args.quiet)
    if args.plot:
        write_atomic(args.plot, pareto.plot(res))
    if args.json:
        _print_json(res["points"] if not args.full_json else res)
    else:
        print(pareto.format_result(res))
    return 0


def cmd_bench_cluster(args: argparse.Namespace) -> int:
    from .bench import cluster

    rows = cluster.run(args.kernels, args.templates, args.distance, args.seed, show_progress=not args.quiet)
    if args.json:
        _print_json(rows)
    else:
        print(cluster.format_rows(rows))
    return 0


def cmd_bench_runtime(args: argparse.Namespace) -> int:
    from .bench import runtime
    from .data import load_fashion_mnist
    from .reader import load_bytes

    if args.file:
        blob = load_bytes(args.file)
    else:
        from .loading import load_default
        from .pipeline import PackSettings, pack_model

        blob = pack_model(*load_default(), PackSettings(templates=16), "default", show_progress=not args.quiet).blob
    x = load_fashion_mnist().test.x[: args.images].numpy()
    res = runtime.run(blob, x, args.rounds)
    if args.json:
        _print_json(res)
    else:
        print(runtime.format_result(res))
    return 0


def cmd_compare(args: argparse.Namespace) -> int:
    from .atomic import write_atomic
    from .bench import compare

    res = compare.run(args.templates, args.epochs, args.lr, args.seed, args.lut_bits, args.calibration_images,
                      args.test_images, args.latency_images, args.latency_rounds, show_progress=not args.quiet)
    command = " ".join(["linrep-edge", *(shlex.quote(a) for a in args.command_line)])
    if args.markdown:
        write_atomic(args.markdown, compare.markdown(res, command).encode())
    if args.plot:
        write_atomic(args.plot, compare.plot(res, args.plot))
    if args.json:
        _print_json(res)
    else:
        print(compare.format_result(res))
        if args.markdown:
            print(f"wrote {args.markdown}")
    return 0


def cmd_bench_speed(args: argparse.Namespace) -> int:
    from .atomic import write_atomic
    from .bench import speed

    res = speed.run(args.settings, args.epochs, args.lr, args.seed, mcu=not args.no_mcu,
                    latency_images=args.images, rounds=args.rounds, show_progress=not args.quiet)
    if args.plot:
        write_atomic(Path(args.plot), speed.plot(res))
    if args.json:
        _print_json(res)
    else:
        print(speed.format_result(res))
    return 0


def cmd_mcu_bench(args: argparse.Namespace) -> int:
    from .mcu import format_result, mcu_bench
    from .reader import load_bytes, parse

    blob = load_bytes(args.file)
    parse(blob, args.file)
    res = mcu_bench(blob, args.target, timeout=args.timeout)
    if args.json:
        _print_json(res)
    else:
        print(format_result(res))
    return 0


# -- demo ----------------------------------------------------------------------------------------------
def cmd_demo(args: argparse.Namespace) -> int:
    """The main job on the embedded default model: compress + fine-tune, pack, report, verify in C."""
    import shutil

    from .atomic import write_atomic
    from .data import load_fashion_mnist
    from .loading import load_default
    from .pipeline import PackSettings, pack_model
    from .report import format_report, storage_report
    from .verify import format_result, verify

    out = Path(args.output)
    model, example = load_default()
    settings = PackSettings(templates=16, finetune_epochs=1.0, data="fashion-mnist", seed=0)
    print("1. compress the embedded default model (ResNet-8, Fashion-MNIST) at K = 16 templates and "
          "fine-tune a, b for one epoch", flush=True)
    res = pack_model(model, example, settings, "default", evaluate_on_test=True, show_progress=not args.quiet)
    a = res.accuracy
    print(f"   test accuracy: default model {100 * a['original_accuracy']:.2f}%, compressed before fine-tuning "
          f"{100 * a['accuracy_before_finetune']:.2f}%, after {100 * a['accuracy_after_finetune']:.2f}%")
    write_atomic(out, res.blob)
    print(f"\n2. storage report of {out}\n")
    print(format_report(storage_report(res.blob, str(out))))
    print("\n3. verify through the C runtime on the 10,000 test images\n", flush=True)
    test = load_fashion_mnist().test
    print(format_result(verify(res.blob, test.x.numpy(), test.y.numpy(), str(out))))
    if shutil.which("arm-none-eabi-gcc") and shutil.which("qemu-system-arm"):
        from .mcu import format_result as mcu_format
        from .mcu import mcu_bench

        print("\n4. on a Cortex-M4F (QEMU mps2-an386), beside the same network with dense fp32 weights\n", flush=True)
        print(mcu_format(mcu_bench(res.blob, "cortex-m4")).split("\n\n")[0])
    else:
        print("\n4. skipped the Cortex-M run: apt-get install gcc-arm-none-eabi libnewlib-arm-none-eabi qemu-system-arm")
    return 0


# -- parser --------------------------------------------------------------------------------------------
def _add_compress_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--templates", "-K", type=int, default=16, help="codebook size K (default 16)")
    p.add_argument("--distance", choices=("signfree", "signed"), default="signfree",
                   help="signfree: 1-rho^2, energy-weighted (default); signed: the paper's 1-rho")
    p.add_argument("--scope", choices=("global", "layer"), default="global",
                   help="one codebook per kernel shape (global, default) or per layer")
    p.add_argument("--seed", type=int, default=0)


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="linrep-edge", description="Compress conv kernels as a*T[idx] + b and pack "
                                 "them for microcontrollers.", epilog=EPILOG,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quiet", "-q", action="store_true", help="no progress bars")
    sub = ap.add_subparsers(dest="command", metavar="COMMAND", required=True)

    p = sub.add_parser("pack", help="compress a model and write a .lre blob", epilog=EPILOG,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("model", nargs="?", help="a torch.export program (.pt2) or package.module:factory")
    p.add_argument("--default", action="store_true", help="the embedded default model (ResNet-8, Fashion-MNIST)")
    p.add_argument("--weights", help="state dict for package.module:factory")
    p.add_argument("--input-shape", help="input shape with batch 1, e.g. 1,1,28,28 (factory models)")
    _add_compress_options(p)
    p.add_argument("--codebook-dtype", choices=("fp16", "fp32"), default="fp16")
    p.add_argument("--weights-dtype", choices=("fp16", "fp32", "int8"), default="fp16",
                   help="storage of tensors LinRep does not cover: 1x1 convs, linear layers, biases "
                        "(default fp16; int8: conv/linear weights per output channel, fp32 biases)")
    p.add_argument("--ab-bits", type=int, choices=(16, 8, 7, 6, 5, 4, 3, 2), default=16,
                   help="storage of a and b: 16 = fp16 (default), 2..8 = integers with a scale per output "
                        "channel, fine-tuned with the quantization in the loop (use with --finetune-epochs)")
    p.add_argument("--ab-scale", choices=("channel", "layer"), default="channel",
                   help="integer a/b: quantization scale per output channel (default) or per layer")
    p.add_argument("--prune-sparsity", type=float, default=0.0, metavar="FRACTION",
                   help="prune this fraction of each LinRep layer's kernels, smallest ||a*T + b|| first "
                        "(mask fixed, then a/b fine-tuned); pruned kernels cost one mask bit")
    p.add_argument("--prune-threshold", type=float, default=0.0, metavar="NORM",
                   help="prune kernels whose ||a*T + b||_2 is below NORM")
    p.add_argument("--include", action="append", metavar="PATTERN", help="only convs whose name matches (fnmatch)")
    p.add_argument("--exclude", action="append", metavar="PATTERN", help="skip convs whose name matches (fnmatch)")
    p.add_argument("--cap-templates", action="store_true", help="use min(K, kernels) for small codebooks")
    p.add_argument("--templates-ratio", type=float, metavar="R",
                   help="with --scope layer: K of each layer = max(2, round(R * its output channels)), capped "
                        "at its kernels (e.g. 0.25; fewer templates per layer make template reuse faster)")
    p.add_argument("--finetune-epochs", type=float, default=0.0, help="epochs of a/b fine-tuning (needs --data)")
    p.add_argument("--lr", type=float, default=1e-3, help="fine-tuning learning rate (Adam, cosine decay; default 1e-3)")
    p.add_argument("--data", choices=("fashion-mnist", "digits"), help="data for fine-tuning / evaluation")
    p.add_argument("--evaluate", action="store_true", help="report test accuracy before/after (needs --data)")
    p.add_argument("-o", "--output", required=True, help="output .lre (or .lre.zst for the transport container)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_pack)

    p = sub.add_parser("report", help="storage report of a .lre: bytes per layer and section")
    p.add_argument("file")
    p.add_argument("--json", action="store_true")
    p.add_argument("--plot", metavar="PNG", help="write a stacked bar chart of bytes per layer")
    p.set_defaults(func=cmd_report)

    p = sub.add_parser("inspect", help="readable dump of a .lre: graph, tensors, sections")
    p.add_argument("file")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_inspect)

    p = sub.add_parser("export-c", help="write a .lre as a C header for firmware (16-byte aligned array)")
    p.add_argument("file")
    p.add_argument("-o", "--output", required=True)
    p.add_argument("--name", help="C identifier of the array (default lr_model)")
    p.set_defaults(func=cmd_export_c)

    p = sub.add_parser("verify", help="run a .lre through the C runtime and torch; compare answers",
                       epilog="examples:\n  linrep-edge verify m.lre --data fashion-mnist\n"
                              "  linrep-edge verify m.lre --inputs x.npy --labels y.npy --json",
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("file")
    p.add_argument("--data", choices=("fashion-mnist", "digits"), help="test split to run (default fashion-mnist)")
    p.add_argument("--inputs", metavar="X.npy", help="your own inputs, float32 (N, *input_shape)")
    p.add_argument("--labels", metavar="Y.npy", help="integer labels for --inputs")
    p.add_argument("--limit", type=int, help="only the first N inputs")
    p.add_argument("--conv-path", choices=("auto", "direct", "reuse"), default="auto",
                   help="how the C runtime runs LinRep convs: auto (cost model, default), direct, reuse")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_verify)

    p = sub.add_parser("demo", help="the main job on the embedded default model")
    p.add_argument("-o", "--output", default="default_k16.lre")
    p.set_defaults(func=cmd_demo)

    bench = sub.add_parser("bench", help="benchmarks").add_subparsers(dest="bench", metavar="BENCH", required=True)
    p = bench.add_parser("accuracy", help="K x distance x scope on the default model and the full test set")
    p.add_argument("--templates", type=int, nargs="+", default=[4, 8, 16, 32, 64, 256])
    p.add_argument("--distance", nargs="+", choices=("signfree", "signed"), default=["signfree", "signed"])
    p.add_argument("--scope", nargs="+", choices=("global", "layer"), default=["global", "layer"])
    p.add_argument("--epochs", type=float, default=1.0)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--seeds", type=int, nargs="+", default=[0])
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_bench_accuracy)
    p = bench.add_parser("pareto", help="bytes vs accuracy over K x a/b bits x pruning, C runtime accuracy, Pareto front",
                         epilog="examples:\n  linrep-edge bench pareto --plot pareto.png\n"
                                "  linrep-edge bench pareto --templates 16 --ab-bits 16 6 --json",
                         formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--templates", type=int, nargs="+", default=[8, 16])
    p.add_argument("--ab-bits", type=int, nargs="+", choices=(16, 8, 7, 6, 5, 4, 3, 2), default=[16, 8, 6, 4],
                   help="16 = fp16 a/b (other weights fp16); 2..8 = integer a/b (other weights int8)")
    p.add_argument("--sparsity", type=float, nargs="+", default=[0.0, 0.3],
                   help="fractions of each LinRep layer's kernels pruned (default 0 0.3)")
    p.add_argument("--epochs", type=float, default=1.0)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--test-images", type=int, default=None, help="limit the test set (default: all 10,000)")
    p.add_argument("--plot", metavar="PNG")
    p.add_argument("--json", action="store_true", help="the list of points")
    p.add_argument("--full-json", action="store_true", help="with --json: points, baseline and best points")
    p.set_defaults(func=cmd_bench_pareto)
    p = bench.add_parser("cluster", help="clustering wall time on N real-like kernels")
    p.add_argument("--kernels", type=int, default=1_000_000)
    p.add_argument("--templates", type=int, default=256)
    p.add_argument("--distance", nargs="+", choices=("signfree", "signed"), default=["signfree", "signed"])
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_bench_cluster)
    p = bench.add_parser("runtime", help="host latency: C runtime LinRep vs dense fp32 vs torch")
    p.add_argument("file", nargs="?", help=".lre to time (default: the default model packed at K = 16)")
    p.add_argument("--images", type=int, default=50)
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_bench_runtime)
    p = bench.add_parser("speed", help="bytes vs accuracy vs Cortex-M4F instructions: dense, direct, template reuse")
    p.add_argument("--settings", nargs="+", choices=("global-K16", "layer-Cout/4", "layer-Cout/8"),
                   default=["global-K16", "layer-Cout/4", "layer-Cout/8"])
    p.add_argument("--epochs", type=float, default=1.0)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--images", type=int, default=50, help="images for host latency (default 50)")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--no-mcu", action="store_true", help="skip the Cortex-M4F runs")
    p.add_argument("--plot", metavar="PNG", help="instructions vs accuracy plot")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_bench_speed)

    p = sub.add_parser("compare", help="linrep-edge vs TFLite fp32/int8 (LiteRT, TFLite Micro) and TFLM LUT, one run",
                       epilog="needs the optional peers extra: pip install 'linrep-edge[peers]'\n\n"
                              "examples:\n  linrep-edge compare                       # full test set, writes BENCHMARKS.md\n"
                              "  linrep-edge compare --plot pareto.png --json\n"
                              "  linrep-edge compare --templates 16 --test-images 1000 --markdown ''",
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--templates", type=int, nargs="+", default=[4, 16, 64], help="linrep-edge K values (default 4 16 64)")
    p.add_argument("--epochs", type=float, default=1.0, help="a/b fine-tuning epochs per linrep-edge row")
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--lut-bits", type=int, default=4, choices=range(1, 8), metavar="{1..7}",
                   help="TFLM LUT index width (default 4)")
    p.add_argument("--calibration-images", type=int, default=500, help="training images for int8 calibration")
    p.add_argument("--test-images", type=int, default=None, help="limit the test set (default: all 10,000)")
    p.add_argument("--latency-images", type=int, default=100)
    p.add_argument("--latency-rounds", type=int, default=3)
    p.add_argument("--markdown", default="BENCHMARKS.md", help="write the table here ('' for none)")
    p.add_argument("--plot", metavar="PNG", help="bytes vs accuracy plot with the Pareto front")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_compare)

    p = sub.add_parser("mcu-bench", help="Cortex-M under QEMU: instructions, code size, RAM, flash vs dense fp32",
                       epilog="examples:\n  linrep-edge mcu-bench m.lre\n  linrep-edge mcu-bench m.lre --target cortex-m7 --json",
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("file")
    p.add_argument("--target", choices=("cortex-m4", "cortex-m7", "cortex-m33"), default="cortex-m4")
    p.add_argument("--timeout", type=float, default=120.0, help="seconds per QEMU run")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_mcu_bench)
    return ap


def main(argv: list[str] | None = None) -> int:
    ap = build_parser()
    args = ap.parse_args(argv)
    args.command_line = list(sys.argv[1:] if argv is None else argv)
    func: Callable[[argparse.Namespace], int] = args.func
    try:
        return func(args)
    except LinRepError as exc:
        print(f"linrep-edge: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("linrep-edge: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())
