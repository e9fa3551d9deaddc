"""The `linrep-edge` command line: the parser and the error policy. Each command is a thin layer over one
module, in cli/pack.py, cli/blob.py and cli/bench.py.

User errors (LinRepError, bad files, bad options) print one line on stderr and exit with code 2;
machine-readable output comes with --json; long steps show progress bars on a terminal.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Callable

from linrep_edge.cli import bench as bench_cmds
from linrep_edge.cli import blob as blob_cmds
from linrep_edge.cli import pack as pack_cmds
from linrep_edge.cli import train as train_cmds
from linrep_edge.errors import Interrupted, LinRepError
from linrep_edge.format.transport import DEFAULT_MAX_BYTES

EPILOG = """examples:
  linrep-edge pack --default --templates 16 --seed 0 -o m.lre
  linrep-edge pack --default --templates 16 --finetune-epochs 1 --data fashion-mnist -o m.lre
  linrep-edge pack mypkg.models:make_net --weights net.pt --input-shape 1,3,32,32 -o net.lre
  linrep-edge pack mypkg.models:make_net --weights net.pt --input-shape 1,3,32,32 --check
  linrep-edge pack program.pt2 --templates 64 -o net.lre.zst
  linrep-edge pack model.onnx --templates 16 -o net.lre
  linrep-edge pack float.tflite --templates 32 --calibration x.npy -o net.lre   # an fp32 .tflite, compressed
  linrep-edge pack mypkg.models:make_net --weights net.pt --input-shape 1,3,32,32 --calibration x.npy \
      --calibration-epochs 0 -o quick.lre      # seconds: only the batch-norm statistics matched on x.npy
  linrep-edge pack int8.tflite -o net.lre                        # a full-integer .tflite: packed as it is
  linrep-edge compress --default --templates 16 -o ckpt.lrc      # the split pipeline: docs/FINETUNE.md
  torchrun --nproc-per-node 2 -m linrep_edge finetune ckpt.lrc --data fashion-mnist -o ft.lrc
  linrep-edge pack ft.lrc -o m.lre
  linrep-edge report m.lre --plot m.png
  linrep-edge inspect m.lre
  linrep-edge export-c m.lre -o model_blob.h
  linrep-edge export-project m.lre --target cortex-m4 -o m_firmware
  linrep-edge verify m.lre --data fashion-mnist
  linrep-edge mcu-bench m.lre --target cortex-m4
  linrep-edge bench accuracy --templates 16 --distance signfree --scope global --json
  linrep-edge bench cluster --kernels 1000000 --templates 256
"""


class _Parser(argparse.ArgumentParser):
    """argparse with the CLI's error policy: a bad option is one line on stderr and exit code 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        from linrep_edge.format.text import shown

        where = self.prog.removeprefix('linrep-edge').strip()
        self.exit(2, f"linrep-edge: error: {where + ': ' if where else ''}{shown(message, 300)} "
                     f"(see {self.prog} --help)\n")


def _size(text: str) -> int:
    """'64M', '1G', '512K' or a byte count → bytes (argparse type for --max-size)."""
    t = text.strip().upper().removesuffix("IB").removesuffix("B")
    scale = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}.get(t[-1:], 1)
    try:
        n = int(t[:-1] if scale > 1 else t) * scale
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: expected a size like 64M, 1G or 1048576") from None
    if n <= 0:
        raise argparse.ArgumentTypeError(f"{text!r}: must be positive")
    return n


def _positive(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: expected a positive integer") from None
    if n <= 0:
        raise argparse.ArgumentTypeError(f"{text!r}: must be at least 1")
    return n


def _ram_limit(text: str) -> int:
    """--ram-limit: bytes (0 the least arena, -1 no limit); other negative values are refused."""
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: expected a byte count, 0 or -1") from None
    if n < -1:
        raise argparse.ArgumentTypeError(f"{text!r}: expected a byte count, 0 (the least arena) or -1 (no limit)")
    return n


def _templates_list(text: str) -> tuple[int, ...]:
    try:
        ks = tuple(sorted({int(t) for t in text.split(",") if t.strip()}))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: expected K values like 4,8,16,32") from None
    if not ks or not all(1 <= k <= 65536 for k in ks):
        raise argparse.ArgumentTypeError(f"{text!r}: K values must be between 1 and 65536")
    return ks


def _add_read_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--max-size", type=_size, default=DEFAULT_MAX_BYTES, metavar="BYTES",
                   help="refuse blobs larger than this, before or after zstd decompression, checked before "
                        "allocating (default 64M; suffixes K, M, G)")


TRAIN_EPILOG = """the split pipeline (docs/FINETUNE.md):
  linrep-edge compress --default --templates 16 -o ckpt.lrc
  linrep-edge finetune ckpt.lrc --data fashion-mnist --epochs 1 --checkpoint-every 200 -o ft.lrc
  torchrun --nproc-per-node 2 -m linrep_edge finetune ckpt.lrc --data fashion-mnist -o ft.lrc
  linrep-edge finetune ckpt.lrc --data fashion-mnist -o ft.lrc --resume ft.lrc   # after an interruption
  linrep-edge pack ft.lrc -o m.lre
"""


def _add_compress_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--templates", "-K", type=int, default=16, help="codebook size K (default 16)")
    p.add_argument("--distance", choices=("signfree", "signed"), default="signfree",
                   help="signfree: 1-rho^2, energy-weighted (default); signed: the paper's 1-rho")
    p.add_argument("--scope", choices=("global", "layer"), default="global",
                   help="one codebook per kernel shape (global, default) or per layer")
    p.add_argument("--seed", type=int, default=0)


def _add_model_options(p: argparse.ArgumentParser, checkpoint: bool = False) -> None:
    """MODEL | --default, --weights, --input-shape: where the model comes from (pack and compress)."""
    p.add_argument("model", nargs="?", help="a torch.export program (.pt2), an ONNX model (.onnx; needs the onnx "
                   "extra), an fp32 or dynamic-range TFLite model (.tflite; its graph is NCHW here: inputs [C, H, W]) "
                   "or package.module:factory"
                   + (", or a compressed-model checkpoint (.lrc from `compress` / `finetune`)" if checkpoint else ""))
    p.add_argument("--default", action="store_true", help="the embedded default model (ResNet-8, Fashion-MNIST)")
    p.add_argument("--weights", help="state dict for package.module:factory")
    p.add_argument("--input-shape", help="input shape with batch 1, e.g. 1,1,28,28 (factory models; ONNX models "
                   "whose input shape is not static)")
    p.add_argument("--trust-pt2", action="store_true",
                   help="load a .pt2 that needs pickled weights, constants or custom objects (refused by default: "
                        "unpickling runs code, so such a file is as trusted as Python code you run)")


def _add_representation_options(p: argparse.ArgumentParser) -> None:
    """How a and b are stored and which convs are compressed: fixed before fine-tuning (pack and compress)."""
    p.add_argument("--codebook-dtype", choices=("fp16", "fp32"), default="fp16")
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


def build_parser() -> argparse.ArgumentParser:
    ap = _Parser(prog="linrep-edge", description="Compress conv kernels as a*T[idx] + b and pack "
                                 "them for microcontrollers.", epilog=EPILOG,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quiet", "-q", action="store_true", help="no progress bars")
    sub = ap.add_subparsers(dest="command", metavar="COMMAND", required=True)

    p = sub.add_parser("pack", help="compress a model (or take a checkpoint) and write a .lre blob", epilog=EPILOG,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    _add_model_options(p, checkpoint=True)
    _add_compress_options(p)
    p.add_argument("--as-imported", action="store_true",
                   help="a .tflite: pack the imported graph as it is, no LinRep compression (a full-integer .tflite "
                        "always is: its integers are TFLite Micro's)")
    p.add_argument("--weights-dtype", choices=("fp16", "fp32", "int8"), default="fp16",
                   help="storage of tensors LinRep does not cover: 1x1 convs, linear layers, biases "
                        "(default fp16; int8: conv/linear weights per output channel, fp32 biases)")
    _add_representation_options(p)
    p.add_argument("--activations", choices=("auto", "fp32", "int8"), default="auto",
                   help="int8: a full-integer model (format version 4, docs/INTEGER.md): int8 activations calibrated "
                        "on 2000 training images of --data (or on --calibration X.npy; the default model: its own "
                        "training images), int8 weights and templates, integer a/b (--ab-bits, default 6), fine-tuned "
                        "with the int8 model in the loop when --finetune-epochs is given; fp32: fp32 activations; "
                        "auto (default): int8 when there are inputs to calibrate on and every op has an int8 form, "
                        "else fp32 with a note saying why")
    p.add_argument("--layer-ab-bits", action="append", metavar="LAYER=BITS",
                   help="--activations int8: a/b width of one LinRep layer (by name, as `report` lists it) when it "
                        "differs from --ab-bits; repeatable (e.g. layer3.conv2=4)")
    p.add_argument("--finetune-epochs", type=float, default=0.0, help="epochs of a/b fine-tuning (needs --data)")
    p.add_argument("--lr", type=float, default=1e-3, help="fine-tuning learning rate (Adam, cosine decay; default 1e-3)")
    p.add_argument("--data", metavar="DATA", help="labelled data for fine-tuning / evaluation: fashion-mnist, digits, "
                   "an image folder (class per sub-folder), FILE.npz (arrays x, y) or package.module:function "
                   "returning a torch Dataset; checked against the model's input shape and outputs before any work")
    p.add_argument("--evaluate", action="store_true", help="report accuracy before/after (needs --data; the test "
                   "set of fashion-mnist/digits, else the validation part carved from --data)")
    p.add_argument("--calibration", metavar="X.npy", help="unlabelled inputs (N, *input shape; .npy, or .npz with "
                   "array x; a few hundred to a few thousand): fine-tune a, b by distilling the original model's "
                   "outputs and feature maps, early-stopped on a held-out 20%%, after matching the batch-norm "
                   "statistics to the original's on them (kept if the held-out part agrees); pack then reports agreement")
    p.add_argument("--calibration-epochs", type=int, default=60, metavar="N",
                   help="--calibration: at most N epochs (early stopping after 8 without improvement; default 60); "
                        "0: only match the batch-norm statistics to the original's on the inputs (seconds; done first anyway)")
    p.add_argument("--calibration-lr", type=float, default=1e-3, help="--calibration: learning rate (default 1e-3)")
    p.add_argument("--feature-weight", type=float, default=3.0, metavar="W",
                   help="--calibration: weight of the feature-map term (MSE / variance over compressed convs; default 3)")
    p.add_argument("--data-aware", type=int, nargs="?", const=4, default=0, metavar="ROUNDS",
                   help="--calibration: before distilling, refit templates, indices and a, b for the error of each "
                   "conv's output on the calibration inputs (one forward pass of the original; ROUNDS of weighted "
                   "k-means, default 4)")
    p.add_argument("--calibration-augment", action=argparse.BooleanOptionalAction, default=False,
                   help="--calibration: distil on left-right flipped and shifted (by up to 2 px) copies of the "
                        "images, drawn anew every batch (image inputs only; default off)")
    p.add_argument("--calibration-temperature", type=float, default=1.0, metavar="T",
                   help="--calibration: temperature of the output KL term (default 1)")
    p.add_argument("--calibration-match-bn", action=argparse.BooleanOptionalAction, default=True,
                   help="--calibration: first match the batch-norm statistics to the original's on the inputs, kept "
                        "if the held-out part agrees (default on; about three forward passes over the inputs: "
                        "--no-calibration-match-bn skips it)")
    p.add_argument("--max-bytes", type=_size, metavar="N", help="choose each compressible layer's storage (K from "
                   "--budget-templates, capped by its kernels, or left dense int8 / fp16) from its measured sensitivity: "
                   "the most faithful blob of at most N bytes, header and all (suffixes K, M); prints the choice")
    p.add_argument("--min-agreement", type=float, metavar="P", help="the same choice for the smallest blob whose top-1 "
                   "agreement with the original, on the held-out 20%% of the calibration inputs, is at least P (e.g. 0.97)")
    p.add_argument("--budget-templates", type=_templates_list, default=(4, 8, 16, 32, 64), metavar="K,K,...",
                   help="--max-bytes / --min-agreement: candidate K per layer (default 4,8,16,32,64)")
    p.add_argument("--budget-inputs", type=_positive, default=1024, metavar="N",
                   help="--max-bytes / --min-agreement without --calibration: inputs drawn from --data's training data "
                        "(the default model: Fashion-MNIST's) to measure on (default 1024)")
    p.add_argument("--budget-cache", metavar="FILE.json", help="--max-bytes / --min-agreement: keep the per-layer "
                   "measurements in FILE.json and reuse them when the model, inputs and settings are the same (another "
                   "budget for the same model skips the measuring)")
    p.add_argument("--threads", type=_positive, metavar="N",
                   help="torch threads while packing (default: torch's choice, one per core). Fine-tuning and "
                        "--calibration give the same bytes again only at the same thread count (and torch build and "
                        "CPU type), which the blob records as metadata 'threads'; without them any count does")
    p.add_argument("-o", "--output", help="output .lre (or .lre.zst for the transport container)")
    p.add_argument("--check", action="store_true",
                   help="only capture the model and list every operation the runtime cannot run (no -o needed)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=pack_cmds.cmd_pack)

    p = sub.add_parser("compress", help="cluster + fit: write a compressed-model checkpoint (.lrc) to fine-tune and pack",
                       epilog=TRAIN_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    _add_model_options(p)
    _add_compress_options(p)
    _add_representation_options(p)
    p.add_argument("-o", "--output", required=True, help="output checkpoint (.lrc)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=train_cmds.cmd_compress)

    p = sub.add_parser("finetune", help="fine-tune a and b of a checkpoint: resumable, data-parallel under torchrun",
                       epilog=TRAIN_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("checkpoint", help="compressed-model checkpoint (.lrc) from `compress` (or an earlier `finetune`)")
    p.add_argument("--data", required=True, metavar="DATA",
                   help="fashion-mnist, digits, an image folder (class per sub-folder), FILE.npz / FILE.npy, "
                        "or package.module:function returning a torch Dataset")
    p.add_argument("--labels", metavar="Y.npy", help="labels for --data FILE.npy")
    p.add_argument("--transform", metavar="MODULE:FUNCTION", help="callable applied to every input (PIL image "
                   "for folders, tensor otherwise)")
    p.add_argument("--epochs", type=float, default=1.0, help="epochs of a/b fine-tuning (default 1; may be fractional)")
    p.add_argument("--lr", type=float, default=1e-3, help="learning rate (Adam, cosine decay; default 1e-3)")
    p.add_argument("--batch", type=int, default=64, help="global batch (split evenly over the processes; default 64)")
    p.add_argument("--distill", type=float, default=0.0, metavar="F", help="loss = (1-F)*CE + F*KL(original || "
                   "compressed); 1 = distillation only (unlabelled data)")
    p.add_argument("--val-size", type=int, help="validation items carved from the data (default: 10%%, at most "
                   "5000; fixed for fashion-mnist and digits)")
    p.add_argument("--limit", type=int, help="train on the first N training items only (smoke runs, benchmarks)")
    p.add_argument("--checkpoint-every", type=int, default=0, metavar="N",
                   help="also write the checkpoint every N steps (always at each epoch end and on SIGINT/SIGTERM)")
    p.add_argument("--resume", metavar="FT.lrc", help="continue the interrupted run saved in FT.lrc "
                   "(same settings, number of processes and threads: bit-identical)")
    p.add_argument("--backend", choices=("auto", "gloo", "nccl"), default="auto",
                   help="process-group backend under torchrun (auto: nccl with CUDA, else gloo)")
    p.add_argument("--threads", type=_positive, metavar="N", help="torch threads per process (default: torch's "
                   "choice); the checkpoint records it: the same a, b again take the same count")
    p.add_argument("--no-validate", action="store_true", help="skip the validation accuracy at the end")
    p.add_argument("-o", "--output", required=True, help="output checkpoint (.lrc), rewritten at every checkpoint")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=train_cmds.cmd_finetune)

    p = sub.add_parser("report", help="storage report of a .lre: bytes per layer and section")
    p.add_argument("file")
    p.add_argument("--json", action="store_true")
    p.add_argument("--plot", metavar="PNG", help="write a stacked bar chart of bytes per layer (at most 40 bars: "
                   "the largest layers, the rest summed)")
    _add_read_options(p)
    p.set_defaults(func=blob_cmds.cmd_report)

    p = sub.add_parser("inspect", help="readable dump of a .lre: graph, tensors, sections")
    p.add_argument("file")
    p.add_argument("--json", action="store_true")
    _add_read_options(p)
    p.set_defaults(func=blob_cmds.cmd_inspect)

    p = sub.add_parser("export-c", help="write a .lre as a C header for firmware (16-byte aligned const array)",
                       epilog="The header defines <NAME>_SIZE, <NAME>_ARENA_SIZE (what lr_arena_size asks for), "
                              "<NAME>_INPUT_SHAPE / _INPUT_SIZE, <NAME>_OUTPUT_SHAPE (the first output's) / _OUTPUT_SIZE (every "
                              "output's elements: the buffer lr_run fills) / _OUTPUT_COUNT and, with several outputs, "
                              "<NAME>_OUTPUT<k>_SHAPE / _SIZE / _OFFSET per output (NAME is the identifier in capitals) "
                              "and includes nothing; include linrep.h beside it.")
    p.add_argument("file")
    p.add_argument("-o", "--output", required=True)
    p.add_argument("--name", help="C identifier of the array (default lre_<file name>, e.g. lre_model for "
                                  "model.lre); checked: no C keyword, no lr_/LR_/linrep prefix, no reserved name")
    p.add_argument("--json", action="store_true", help="print a summary as JSON")
    _add_read_options(p)
    p.set_defaults(func=blob_cmds.cmd_export_c)

    p = sub.add_parser("export-project", help="write a firmware project folder: runtime sources, model header, "
                       "CMakeLists.txt (linrep::runtime), Makefile, a main.c that checks one inference",
                       epilog="examples:\n  linrep-edge export-project m.lre --target cortex-m4 -o m_fw\n"
                              "  linrep-edge export-project i8.lre -o m_fw --linrep-path reuse   # less code\n"
                              "  linrep-edge export-project i8.lre -o m_fw --offline-plan --no-status-texts   # less "
                              "still: no planner, no texts\n"
                              "  linrep-edge export-project i8.lre -o m_fw --linrep-path reuse --offline-plan "
                              "--no-status-texts --kernels ref   # the least code\n"
                              "  linrep-edge export-project i8.lre -o m_fw --linrep-path reuse --offline-plan "
                              "--no-status-texts --kernels linrep   # little code, fast LinRep convs\n"
                              "  linrep-edge export-project i8.lre -o m_fw --ram-limit -1   # the fastest plan: more RAM "
                              "(mcu-bench prints both)\n"
                              "  linrep-edge export-project i8.lre -o m_fw --fast-paths   # -Os with the kernels' fast "
                              "paths: more code, fewer instructions (mcu-bench prints the three builds)\n"
                              "  cmake -S m_fw -B m_fw/build && cmake --build m_fw/build --target run\n"
                              "  make -C m_fw run\n\nThe expected output in model/<name>_test.h is the host C "
                              "runtime's; main.c compares bit for bit. Cortex-M projects run under QEMU (mps2 boards) "
                              "as exported; replace board/ with your board's startup code and linker script.",
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("file")
    p.add_argument("--target", choices=("host", "cortex-m3", "cortex-m4", "cortex-m7", "cortex-m33"),
                   default="cortex-m4", help="the core the project builds for (default cortex-m4)")
    p.add_argument("-o", "--output", required=True, metavar="DIR", help="the project folder (new, or empty)")
    p.add_argument("--name", help="C identifier of the blob array (default lre_<file name>)")
    p.add_argument("--input", metavar="X.npy", help="the test input (float32, the model's input shape; the first "
                   "of a batch); default: a seeded normal one (the first test image for default-model blobs)")
    p.add_argument("--force", action="store_true", help="write into a folder that is not empty")
    p.add_argument("--linrep-path", choices=("auto", "direct", "reuse"), default="auto",
                   help="compile in one LinRep conv path only (-DLR_LINREP_PATHS, linrep.h): the other path's "
                        "kernel and the cost model's choice are not linked (about 6 KB less at -Os on the "
                        "default model); `mcu-bench --json` says which path a core's plan takes "
                        "(blob_linrep_paths). Default auto: both, chosen per layer on the device")
    p.add_argument("--offline-plan", action="store_true",
                   help="make the memory plan on the host (lr_plan_export: model/NAME_plan.h, for --linrep-path) and "
                        "build the runtime without its planner (-DLR_PLANNER=0, about 1.5 KB less at -Os; "
                        "lr_set_plan checks the plan on the device); the arena is the plan's")
    p.add_argument("--no-status-texts", action="store_true",
                   help="leave lr_status_str's texts out (-DLR_STATUS_TEXTS=0, about 0.75 KB less at -Os): the "
                        "demo prints status codes; `linrep-edge status CODE` names one")
    p.add_argument("--kernels", default="opt", metavar="opt|ref|KINDS",
                   help="the int8 kernels the project holds: opt (the optimised ones, the default), ref (the "
                        "reference kernels only: LR_KERNELS=ref, -DLR_OPT_KERNELS=0; about 4 KB less at -Os on the "
                        "default model, about 3x its instructions), or the kinds whose optimised kernels run, "
                        "'+'-separated among conv, linear, add, linrep, act (e.g. linrep: the LinRep convs fast, the "
                        "rest in the least code); `mcu-bench --kernels` measures each")
    p.add_argument("--ram-limit", type=_ram_limit, default=None, metavar="BYTES",
                   help="main.c calls lr_set_ram_limit(BYTES) before sizing the arena: RAM traded for speed (0: the "
                        "least arena; -1: no limit, every LinRep conv its fastest path; `mcu-bench` prints what "
                        "either costs). Default: the runtime's, the least arena for int8 blobs, none for fp32")
    p.add_argument("--fast-paths", action="store_true",
                   help="int8 blobs: keep the optimised kernels' shape-specific fast paths in the -Os build "
                        "(-DLR_OPT_FAST=1, linrep.h): several KB more code than plain -Os, on some models several "
                        "times fewer instructions, less code than -O2; `mcu-bench` prints the three builds "
                        "(\"Code for speed\")")
    p.add_argument("--json", action="store_true", help="print a summary as JSON")
    _add_read_options(p)
    p.set_defaults(func=blob_cmds.cmd_export_project)

    p = sub.add_parser("status", help="name a C runtime status code (for firmware built with -DLR_STATUS_TEXTS=0)",
                       epilog="examples:\n  linrep-edge status -12\n  linrep-edge status --json",
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("codes", nargs="*", type=int, metavar="CODE",
                   help="lr_status values, as a firmware prints them (default: every status)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=blob_cmds.cmd_status)

    p = sub.add_parser("verify", help="run a .lre through the C runtime and torch; compare answers",
                       epilog="examples:\n  linrep-edge verify m.lre --data fashion-mnist\n"
                              "  linrep-edge verify m.lre --inputs x.npy --labels y.npy --json\n"
                              "  linrep-edge verify net.lre --inputs x.npy --model mypkg.nets:make --weights net.pt\n"
                              "  linrep-edge verify net.lre --data test.npz   # your labelled arrays x, y (or a folder)\n"
                              "  linrep-edge verify model.tflite --n 1000   # int8 .tflite: our C runtime vs TFLite Micro",
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("file", help="a .lre blob, or a full-integer .tflite (imported, packed and run by our C runtime "
                   "beside TFLite Micro and LiteRT-reference on the same inputs: differing output bytes)")
    p.add_argument("--n", type=int, default=200, help=".tflite: random int8 inputs (default 200; --data / --inputs "
                   "add real ones)")
    p.add_argument("--seed", type=int, default=0, help=".tflite: seed of the random inputs")
    p.add_argument("--data", metavar="DATA", help="data to run: the test split of fashion-mnist (default) or digits, "
                   "or all of your own, as pack --data takes it: an image folder (class per sub-folder), FILE.npz "
                   "(arrays x, y), FILE.npy (labels from --labels) or package.module:function returning a Dataset")
    p.add_argument("--inputs", metavar="X.npy", help="your own inputs, float32 (N, *input_shape)")
    p.add_argument("--labels", metavar="Y.npy", help="integer labels for --inputs (N,), or (N, H, W) for a dense "
                   "output; or for --data FILE.npy")
    p.add_argument("--limit", type=_positive, help="only the first N inputs (N >= 1)")
    p.add_argument("--conv-path", choices=("auto", "direct", "reuse"), default="auto",
                   help="how the C runtime runs LinRep convs: auto (cost model, default), direct, reuse")
    p.add_argument("--model", metavar="MODEL", help="the original model (file.pt2, file.onnx, an fp32 file.tflite or package.module:factory with "
                   "--weights) to measure fidelity against: top-1 agreement, relative error, per-layer SQNR "
                   "(the embedded default model is known without it)")
    p.add_argument("--weights", help="state dict for --model package.module:factory")
    p.add_argument("--input-shape", help="input shape with batch 1 for --model factory (default: the blob's)")
    p.add_argument("--json", action="store_true")
    _add_read_options(p)
    p.set_defaults(func=blob_cmds.cmd_verify)

    p = sub.add_parser("demo", help="the main job on the embedded default model")
    p.add_argument("-o", "--output", default="default_k16.lre")
    p.add_argument("--activations", choices=("auto", "fp32", "int8"), default="auto",
                   help="int8 (auto, the default: pack's choice for the default model): K = 16, 5-bit a/b (4-bit "
                        "layer3.conv2), one epoch of int8-aware fine-tuning, verified in C against the Python integer "
                        "reference; fp32: K = 16, fp16 a/b, one epoch of fine-tuning, verified in C against torch")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of the text: activations, "
                   "bytes, arena, accuracy, the verification and the Cortex-M figures")
    p.set_defaults(func=pack_cmds.cmd_demo)

    bench = sub.add_parser("bench", help="benchmarks").add_subparsers(dest="bench", metavar="BENCH", required=True)
    p = bench.add_parser("accuracy", help="K x distance x scope on the default model and the full test set")
    p.add_argument("--templates", type=int, nargs="+", default=[4, 8, 16, 32, 64, 256])
    p.add_argument("--distance", nargs="+", choices=("signfree", "signed"), default=["signfree", "signed"])
    p.add_argument("--scope", nargs="+", choices=("global", "layer"), default=["global", "layer"])
    p.add_argument("--epochs", type=float, default=1.0)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--seeds", type=int, nargs="+", default=[0])
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=bench_cmds.cmd_bench_accuracy)
    p = bench.add_parser("pareto", help="bytes vs accuracy over K x a/b bits x pruning, C runtime accuracy, Pareto front",
                         epilog="examples:\n  linrep-edge bench pareto --plot pareto.png\n"
                                "  linrep-edge bench pareto --templates 16 --ab-bits 16 6 --json\n"
                                "  linrep-edge bench pareto --templates 16 --ab-bits 5 --sparsity 0 --activations fp32 int8",
                         formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--templates", type=int, nargs="+", default=[8, 16])
    p.add_argument("--ab-bits", type=int, nargs="+", choices=(16, 8, 7, 6, 5, 4, 3, 2), default=[16, 8, 6, 4],
                   help="16 = fp16 a/b (other weights fp16); 2..8 = integer a/b (other weights int8)")
    p.add_argument("--sparsity", type=float, nargs="+", default=[0.0, 0.3],
                   help="fractions of each LinRep layer's kernels pruned (default 0 0.3)")
    p.add_argument("--activations", nargs="+", choices=("fp32", "int8"), default=["fp32"],
                   help="fp32 and/or int8 rows (int8: pack --activations int8 for each integer a/b point, "
                        "accuracy in integer arithmetic; slower: int8-aware fine-tuning); default fp32")
    p.add_argument("--epochs", type=float, default=1.0)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--test-images", type=int, default=None, help="limit the test set (default: all 10,000)")
    p.add_argument("--plot", metavar="PNG")
    p.add_argument("--json", action="store_true", help="the list of points")
    p.add_argument("--full-json", action="store_true", help="with --json: points, baseline and best points")
    p.set_defaults(func=bench_cmds.cmd_bench_pareto)
    p = bench.add_parser("scaling", help="fine-tuning samples/s at 1 and 2 processes (torchrun, gloo) and the "
                         "parallel efficiency")
    p.add_argument("--procs", type=int, nargs="+", default=[1, 2])
    p.add_argument("--samples", type=int, default=4096, help="training images per run (default 4096)")
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--data", default="fashion-mnist")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=bench_cmds.cmd_bench_scaling)
    p = bench.add_parser("cluster", help="clustering wall time on N real-like kernels")
    p.add_argument("--kernels", type=int, default=1_000_000)
    p.add_argument("--templates", type=int, default=256)
    p.add_argument("--distance", nargs="+", choices=("signfree", "signed"), default=["signfree", "signed"])
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=bench_cmds.cmd_bench_cluster)
    p = bench.add_parser("runtime", help="host latency: C runtime LinRep vs dense fp32 vs torch")
    p.add_argument("file", nargs="?", help=".lre to time (default: the default model packed at K = 16)")
    p.add_argument("--images", type=int, default=50)
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=bench_cmds.cmd_bench_runtime)
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
    p.set_defaults(func=bench_cmds.cmd_bench_speed)

    p = sub.add_parser("compare", help="linrep-edge vs TFLite fp32/int8 (LiteRT, TFLite Micro) and TFLM LUT, one run",
                       epilog="needs the optional peers extra: pip install 'linrep-edge[peers]'\n\n"
                              "examples:\n  linrep-edge compare                       # full test set, writes BENCHMARKS.md\n"
                              "  linrep-edge compare --plot pareto.png --json\n"
                              "  linrep-edge compare --templates 16 --test-images 1000 --markdown ''",
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--templates", type=int, nargs="+", default=[4, 16, 64], help="linrep-edge K values (default 4 16 64)")
    p.add_argument("--int8", type=int, nargs="*", default=[], metavar="K", help="also linrep-edge int8 rows "
                   "(pack --activations int8, 5-bit a/b, 4-bit layer3.conv2) at these K, e.g. --int8 16")
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
    p.set_defaults(func=bench_cmds.cmd_compare)

    p = sub.add_parser("mcu-bench", help="Cortex-M under QEMU: instructions, code size, RAM, flash vs dense fp32",
                       epilog="examples:\n  linrep-edge mcu-bench m.lre\n  linrep-edge mcu-bench m.lre --target cortex-m7 --json"
                              "\n  linrep-edge mcu-bench i8.lre --target all   # M4F, M7, M33 and M3 side by side"
                              "\n  linrep-edge mcu-bench i8.lre --profile      # where the instructions go, per function"
                              "\n  linrep-edge mcu-bench i8.lre --kernels linrep --ram-limit -1  # optimised LinRep kernels only",
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("file")
    p.add_argument("--target", nargs="+", choices=("cortex-m4", "cortex-m7", "cortex-m33", "cortex-m3", "all"),
                   default=["cortex-m4"],
                   help="one or more cores, side by side (all: cortex-m4 cortex-m7 cortex-m33, and cortex-m3 for "
                        "int8 blobs); cortex-m3 (no FPU): int8 blobs only. --json with several targets: "
                        "{\"targets\": [one result per target]}")
    p.add_argument("--timeout", type=float, default=120.0, help="seconds per QEMU run (int8 blobs: at least 300)")
    p.add_argument("--ram-limit", type=_ram_limit, default=0, metavar="BYTES",
                   help="int8 blobs: lr_set_ram_limit, the arena the plan may use for speed (0: the least arena, "
                        "the default; -1: no limit, every op its preferred path and scratch)")
    p.add_argument("--kernels", default="opt", metavar="opt|ref|KINDS",
                   help="int8 blobs: the runtime's int8 kernels, opt (optimised, the default), ref (the reference "
                        "kernels only: a runtime built with LR_KERNELS=ref) or the kinds whose optimised kernels "
                        "run, '+'-separated among conv, linear, add, linrep, act (LR_KERNELS=linrep+add, ...)")
    p.add_argument("--profile", action="store_true",
                   help="also count the inference's instructions per function (per translated block, charged to "
                        "the function it starts in; the first QEMU run, a little slower): the top ones in the "
                        "text, all in --json (\"profile\"); int8 blobs: the smallest -Os firmware's too, the build "
                        "export-project makes (\"profile_os\")")
    p.add_argument("--json", action="store_true")
    _add_read_options(p)
    p.set_defaults(func=blob_cmds.cmd_mcu_bench)
    for name, cmd in sub.choices.items():  # -q after the command too (linrep-edge pack ... -q), as before it
        if name != "status":
            cmd.add_argument("--quiet", "-q", action="store_true", default=argparse.SUPPRESS,
                             help="no progress bars (also before the command)")
    return ap


def main(argv: list[str] | None = None) -> int:
    ap = build_parser()
    args = ap.parse_args(argv)
    args.command_line = list(sys.argv[1:] if argv is None else argv)
    func: Callable[[argparse.Namespace], int] = args.func
    try:
        return func(args)
    except LinRepError as exc:
        rank = os.environ.get("RANK", "0") if "WORLD_SIZE" in os.environ else "0"
        print(f"linrep-edge: error{'' if rank == '0' else f' (rank {rank})'}: {exc}", file=sys.stderr)
        return 2
    except Interrupted as exc:
        print(f"linrep-edge: {exc}", file=sys.stderr)
        return 128 + exc.signum
    except KeyboardInterrupt:
        print("linrep-edge: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
    except (MemoryError, RecursionError, OverflowError) as exc:  # a resource limit hit: still one line, no traceback
        what = {"MemoryError": "out of memory", "RecursionError": "input nested too deeply",
                "OverflowError": "number out of range"}.get(type(exc).__name__, type(exc).__name__)
        print(f"linrep-edge: error: {what} ({type(exc).__name__}); the input is too large or malformed", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
