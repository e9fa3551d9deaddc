"""Model definitions and the embedded default model.

`ResNet8` is a stem conv + three residual stages of 3x3 convs (widths 16/32/64) with batch-norm, a 1x1
projection where a stage changes width or stride, global average pooling and a linear head. The trained
checkpoint ships inside the package (`models/resnet8_fmnist.pt`, made by `tools/train_default.py`) so nothing is
downloaded at run time.
"""

from __future__ import annotations

from importlib import resources
from typing import Any

import torch
from torch import nn

from linrep_edge.errors import LinRepError

DEFAULT_CHECKPOINT = "resnet8_fmnist.pt"
DEFAULT_INPUT_SHAPE = (1, 1, 28, 28)


class BasicBlock(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.shortcut: nn.Module = nn.Identity()
        if stride != 1 or cin != cout:
            self.shortcut = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = torch.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        return torch.relu(y + self.shortcut(x))


class ResNet8(nn.Module):
    """Stem + 3 residual stages (one BasicBlock each) + global pool + linear head."""

    def __init__(self, in_channels: int = 1, num_classes: int = 10, widths: tuple[int, int, int] = (16, 32, 64)) -> None:
        super().__init__()
        w1, w2, w3 = widths
        self.stem = nn.Sequential(nn.Conv2d(in_channels, w1, 3, 1, 1, bias=False), nn.BatchNorm2d(w1), nn.ReLU())
        self.layer1 = BasicBlock(w1, w1, 1)
        self.layer2 = BasicBlock(w1, w2, 2)
        self.layer3 = BasicBlock(w2, w3, 2)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(w3, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.layer3(self.layer2(self.layer1(self.stem(x))))
        return self.fc(torch.flatten(self.pool(x), 1))


def save_checkpoint(model: ResNet8, path: str, meta: dict[str, Any]) -> None:
    state = {k: v.detach().clone() for k, v in model.state_dict().items()}
    torch.save({"state_dict": state, "meta": meta}, path)


def load_default_model() -> ResNet8:
    """The embedded ResNet-8 trained on Fashion-MNIST, in eval mode."""
    model, _ = load_default_model_with_meta()
    return model


def load_default_model_with_meta() -> tuple[ResNet8, dict[str, Any]]:
    ref = resources.files("linrep_edge.models") / DEFAULT_CHECKPOINT
    if not ref.is_file():
        raise LinRepError(f"embedded default model missing: {ref} (make it with `python tools/train_default.py`)")
    with resources.as_file(ref) as path:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    meta = ckpt["meta"]
    model = ResNet8(widths=tuple(meta["widths"]))
    model.load_state_dict(ckpt["state_dict"])
    return model.eval(), meta
