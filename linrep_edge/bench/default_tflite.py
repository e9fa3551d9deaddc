"""The default model's `.tflite` files exactly as `linrep-edge compare` makes them, cached on disk.

`compare` converts the default ResNet-8 with litert-torch (`peers.to_tflite`, NCHW input kept) and
quantises it with ai-edge-quantizer's static int8 recipe (`peers.quantize_int8`) calibrated on
`calibration_images` training images drawn with `seed`. `default_int8_tflite` makes the same file once
and keeps it under `build/` (never committed): the oracle campaign and its test import it.
"""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CACHE = ROOT / "build" / "tflite"


def make_default_tflite(seed: int = 0, calibration_images: int = 500) -> tuple[bytes, bytes]:
    """(fp32, int8) `.tflite` bytes of the default model, made as `compare` makes them (the peers extra)."""
    import torch

    from linrep_edge.bench import peers
    from linrep_edge.models.resnet8 import load_default_model
    from linrep_edge.pipeline import finetune_split

    peers.require()
    model = load_default_model().eval()
    train, _, _ = finetune_split("fashion-mnist", seed)
    calib = train.x[torch.randperm(len(train), generator=torch.Generator().manual_seed(seed))[:calibration_images]]
    example = torch.zeros(1, *train.x.shape[1:])
    fp32 = peers.to_tflite(model, example)
    return fp32, peers.quantize_int8(fp32, calib.numpy())


def default_int8_tflite(cache: Path = CACHE, seed: int = 0, calibration_images: int = 500) -> Path:
    """Path of the default model's int8 `.tflite` (made on first use, then read from `cache`)."""
    path = cache / f"resnet8_fmnist_int8_s{seed}_c{calibration_images}.tflite"
    if not path.exists():
        from linrep_edge.atomic import write_atomic

        _, int8 = make_default_tflite(seed, calibration_images)
        cache.mkdir(parents=True, exist_ok=True)
        write_atomic(path, int8)
    return path
