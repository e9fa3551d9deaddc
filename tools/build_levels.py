#!/usr/bin/env python3
"""What the firmware build costs in speed: each int8 blob's smallest firmware (its op types, no status texts, the
plan made offline; `linrep-edge export-project --offline-plan --no-status-texts`) built three ways for one core and
run under QEMU: -Os (what export-project builds), -Os with the optimised kernels' fast paths (`--fast-paths`,
-DLR_OPT_FAST=1) and -O2 (`make OPT=-O2`). Per build: runtime code as linked, executed instructions, RAM, and
whether the outputs equal the host C runtime's bit for bit (mcu-bench's `..._blob_minimal...` figures).

    python tools/build_levels.py [--zoo NAME ...] [--blob FILE.lre ...] [--target cortex-m4] [--kernels K] [--dense]
                                 [--save DIR] [--json OUT]

Default: the int8 zoo networks of tests/zoo.py that run on a microcontroller-sized input (packed as `make zoo-mcu`
packs them: random weights, K = 16), a small squeeze-and-excitation net written as users write one (SENet, packed
alike), and the default model packed int8 at K = 16 (`linrep-edge pack --activations int8`). `--dense` packs the zoo
networks int8 with every conv dense (no LinRep, as their TFLite int8 model runs); `--save DIR` writes each packed
zoo blob there (NAME.lre), so that another checkout measures the same blobs (`--zoo --blob DIR/*.lre`). Needs the ARM
toolchain and QEMU; about a minute per network.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))
sys.path.insert(0, str(ROOT / "tests"))

import torch  # noqa: E402
from torch import nn  # noqa: E402
from torch.nn import functional as F  # noqa: E402
from zoo_mcu import pack_as_zoo, packed  # noqa: E402

from linrep_edge.runtime.mcu_int8 import _minimal_build, default_input_i8, kernel_build  # noqa: E402

# the zoo networks whose input a microcontroller takes (the 224 x 224 ones run for minutes under QEMU: --zoo NAME)
MCU_ZOO = ("mobilenet_v1_vww", "ds_cnn_kws", "resnet8_cifar", "mtcnn_pnet", "mtcnn_onet", "tiny_unet", "odd_convs",
           "audio_conv1d")
LEVELS = (("-Os", "runtime_code_bytes_blob_minimal", "blob_minimal_instructions_os", "blob_minimal_ram_bytes_os",
           "blob_minimal_matches_host_os"),
          ("-Os + fast paths", "runtime_code_bytes_blob_minimal_os_fast", "blob_minimal_instructions_os_fast",
           "blob_minimal_ram_bytes_os_fast", "blob_minimal_matches_host_os_fast"),
          ("-O2", "runtime_code_bytes_blob_minimal_o2", "blob_minimal_instructions", "blob_minimal_ram_bytes",
           "blob_minimal_matches_host"))


def default_blob() -> bytes:
    """The default model packed int8 at K = 16, as `linrep-edge pack --activations int8` does."""
    from linrep_edge.models.loading import load_default
    from linrep_edge.pipeline import PackSettings, pack_model

    model, example = load_default()
    return pack_model(model, example, PackSettings(templates=16, activations="int8"), "default",
                      show_progress=False).blob


class SENet(nn.Module):
    """A small net as a user writes one for a 32 x 32 camera crop: hardswish stem, depthwise conv with
    squeeze-and-excitation, a 1 x 1 conv, two 3 x 3 convs (LinRep candidates), 5 classes. Its 3 x 3 convs run the
    direct path at the least arena in blocks of one or a few channels: the case that made its -Os build 4.3x slower
    than -O2 until small blocks ran per channel (RESULTS)."""

    def __init__(self, classes: int = 5) -> None:
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 16, 3, 2, 1, bias=False), nn.BatchNorm2d(16), nn.Hardswish(inplace=True))
        self.dw = nn.Sequential(nn.Conv2d(16, 16, 3, 1, 1, groups=16, bias=False), nn.BatchNorm2d(16),
                                nn.ReLU6(inplace=True))
        self.fc1, self.fc2 = nn.Conv2d(16, 4, 1), nn.Conv2d(4, 16, 1)
        self.pw = nn.Sequential(nn.Conv2d(16, 32, 1, bias=False), nn.BatchNorm2d(32), nn.ReLU(inplace=True))
        self.c2 = nn.Sequential(nn.Conv2d(32, 32, 3, 2, 1, bias=False), nn.BatchNorm2d(32), nn.ReLU(inplace=True))
        self.c3 = nn.Sequential(nn.Conv2d(32, 64, 3, 1, 1, bias=False), nn.BatchNorm2d(64), nn.ReLU(inplace=True))
        self.fc = nn.Linear(64, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.dw(self.stem(x))
        x = x * torch.sigmoid(self.fc2(F.relu(self.fc1(x.mean((2, 3), keepdim=True)))))
        x = self.c3(self.c2(self.pw(x)))
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))


def se_net_blob(work: Path) -> bytes:
    """SENet with seeded random weights, packed as the zoo rows are."""
    torch.manual_seed(0)
    return pack_as_zoo(SENet().eval(), torch.zeros(1, 3, 32, 32), "se_net", "int8", work)


def levels(name: str, blob: bytes, target: str, work: Path) -> dict:
    folder = work / "".join(c if c.isalnum() else "_" for c in name)  # make takes no spaces or parentheses
    r = _minimal_build(blob, default_input_i8(blob), target, folder, 900.0, 0, [])
    row: dict = {"network": name, "blob_bytes": len(blob)}
    for level, code, instr, ram, ok in LEVELS:
        row[level] = {"code_bytes": r[code], "instructions": r[instr], "ram_bytes": r[ram], "matches_host": r[ok]}
    print(json.dumps(row), file=sys.stderr, flush=True)
    return row


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--zoo", nargs="*", default=None, help=f"zoo networks (default: {' '.join(MCU_ZOO)})")
    ap.add_argument("--blob", nargs="*", default=[], help="int8 .lre files to add")
    ap.add_argument("--no-default", action="store_true", help="leave the default model out")
    ap.add_argument("--no-se-net", action="store_true", help="leave the small SE net (SENet, above) out")
    ap.add_argument("--target", default="cortex-m4", help="the core (default cortex-m4)")
    ap.add_argument("--kernels", default="opt",
                    help="the kernel build (runtime.mk's LR_KERNELS: opt, the default; ref; or a '+'-list such as "
                         "conv+linear+add+linrep, every kind but the activation tables)")
    ap.add_argument("--dense", action="store_true", help="zoo networks int8 with every conv dense (no LinRep)")
    ap.add_argument("--save", help="write each packed zoo blob here as NAME.lre")
    ap.add_argument("--json", help="write the rows here")
    args = ap.parse_args()
    rows = []
    with tempfile.TemporaryDirectory(prefix="build_levels_") as d, kernel_build(args.kernels):
        work = Path(d)
        if not args.no_default:
            rows.append(levels("default model (K = 16)", default_blob(), args.target, work))
        for name in MCU_ZOO if args.zoo is None else args.zoo:
            blob = packed(name, "int8-dense" if args.dense else "int8", work)
            if args.save:
                Path(args.save).mkdir(parents=True, exist_ok=True)
                (Path(args.save) / f"{name}.lre").write_bytes(blob)
            rows.append(levels(name + (" (dense int8)" if args.dense else ""), blob, args.target, work))
        if not args.no_se_net:
            rows.append(levels("se_net (32 x 32, this file)", se_net_blob(work), args.target, work))
        for f in args.blob:
            rows.append(levels(Path(f).name, Path(f).read_bytes(), args.target, work))
    print(f"| int8 network ({args.target}) | " + " | ".join(f"{lv[0]}: code, instructions" for lv in LEVELS)
          + " | -Os + fast paths vs -Os | -O2 vs -Os + fast paths |")
    print("|---|" + "---:|" * (len(LEVELS) + 2))
    for r in rows:
        a, b, c = (r[lv[0]] for lv in LEVELS)
        print(f"| {r['network']} | " + " | ".join(f"{v['code_bytes']:,} B, {v['instructions'] / 1e6:.2f} M"
                                                 + ("" if v["matches_host"] else " (NOT equal)") for v in (a, b, c))
              + f" | {b['code_bytes'] - a['code_bytes']:+,} B, {a['instructions'] / b['instructions']:.2f}x fewer"
              f" | {c['code_bytes'] - b['code_bytes']:+,} B, {b['instructions'] / c['instructions']:.2f}x fewer |")
    bad = [r["network"] for r in rows if not all(r[lv[0]]["matches_host"] for lv in LEVELS)]
    print(f"{len(rows) - len(bad)} of {len(rows)} networks equal the host at every level" + (f"; not: {bad}" if bad else ""))
    if args.json:
        cmd = "python tools/build_levels.py " + " ".join(sys.argv[1:])
        Path(args.json).write_text(json.dumps({"command": cmd.strip(), "target": args.target, "rows": rows},
                                              indent=1) + "\n")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
