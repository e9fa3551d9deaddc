"""Hand-written networks in the styles users deploy on microcontrollers, at their native input sizes.

Each is written the usual way (in-place activations, functional calls, `x.mean((2, 3))`, ...), so that
capturing it exercises what a user's own model does. Widths are slimmed where the full network would
make a test slow in the C reference runtime; the architecture (op types, kernel shapes, strides,
branches, heads) and the input size are the real ones. `ZOO` maps a name to (factory, input shape).
"""

from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn


def _bn_relu6(c: int) -> list[nn.Module]:
    return [nn.BatchNorm2d(c), nn.ReLU6(inplace=True)]


class MobileNetV1(nn.Module):
    """MobileNetV1 (VWW style): depthwise separable blocks, ReLU6 in place, 96×96 RGB, 2 classes."""

    def __init__(self, alpha: float = 0.25, classes: int = 2) -> None:
        super().__init__()
        c = [max(8, int(x * alpha)) for x in (32, 64, 128, 128, 256, 256, 512, 512, 1024)]
        strides = (1, 2, 1, 2, 1, 2, 1, 2)
        layers: list[nn.Module] = [nn.Conv2d(3, c[0], 3, 2, 1, bias=False), *_bn_relu6(c[0])]
        for i, s in enumerate(strides):
            layers += [nn.Conv2d(c[i], c[i], 3, s, 1, groups=c[i], bias=False), *_bn_relu6(c[i]),
                       nn.Conv2d(c[i], c[i + 1], 1, bias=False), *_bn_relu6(c[i + 1])]
        self.features = nn.Sequential(*layers)
        self.fc = nn.Linear(c[-1], classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.adaptive_avg_pool2d(self.features(x), 1)
        return self.fc(torch.flatten(x, 1))


class InvertedResidual(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int, expand: int, k: int = 3, act: type = nn.ReLU6,
                 se: bool = False) -> None:
        super().__init__()
        hid = cin * expand
        self.use_res = stride == 1 and cin == cout
        layers: list[nn.Module] = []
        if expand != 1:
            layers += [nn.Conv2d(cin, hid, 1, bias=False), nn.BatchNorm2d(hid), act(inplace=True)]
        layers += [nn.Conv2d(hid, hid, k, stride, k // 2, groups=hid, bias=False), nn.BatchNorm2d(hid), act(inplace=True)]
        if se:
            layers.append(SqueezeExcite(hid))
        layers += [nn.Conv2d(hid, cout, 1, bias=False), nn.BatchNorm2d(cout)]
        self.conv = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv(x) if self.use_res else self.conv(x)


class MobileNetV2(nn.Module):
    """MobileNetV2 as torchvision writes it (ReLU6(inplace=True)), width 0.35, 224×224 RGB, 1000 classes."""

    def __init__(self, width: float = 0.35, classes: int = 1000) -> None:
        super().__init__()
        cfg = [(1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1)]
        cin = max(8, int(32 * width))
        layers: list[nn.Module] = [nn.Conv2d(3, cin, 3, 2, 1, bias=False), *_bn_relu6(cin)]
        for t, c, n, s in cfg:
            cout = max(8, int(c * width))
            for i in range(n):
                layers.append(InvertedResidual(cin, cout, s if i == 0 else 1, t))
                cin = cout
        last = 1280
        layers += [nn.Conv2d(cin, last, 1, bias=False), *_bn_relu6(last)]
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Sequential(nn.Dropout(0.2), nn.Linear(last, classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = nn.functional.adaptive_avg_pool2d(self.features(x), (1, 1))
        return self.classifier(torch.flatten(x, 1))


class SqueezeExcite(nn.Module):
    def __init__(self, c: int) -> None:
        super().__init__()
        self.fc1 = nn.Conv2d(c, max(8, c // 4), 1)
        self.fc2 = nn.Conv2d(max(8, c // 4), c, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = x.mean((2, 3), keepdim=True)
        s = F.hardsigmoid(self.fc2(F.relu(self.fc1(s), inplace=True)), inplace=True)
        return x * s


class MobileNetV3Small(nn.Module):
    """MobileNetV3-small: hardswish, SE blocks with hardsigmoid, 5×5 depthwise, 224×224, width 0.5."""

    def __init__(self, classes: int = 1000) -> None:
        super().__init__()
        cfg = [(3, 1, 8, True, "relu", 2), (3, 4, 12, False, "relu", 2), (3, 4, 12, False, "relu", 1),
               (5, 4, 20, True, "hs", 2), (5, 6, 20, True, "hs", 1), (5, 3, 24, True, "hs", 1),
               (5, 6, 48, True, "hs", 2), (5, 6, 48, True, "hs", 1)]
        layers: list[nn.Module] = [nn.Conv2d(3, 8, 3, 2, 1, bias=False), nn.BatchNorm2d(8), nn.Hardswish(inplace=True)]
        cin = 8
        for k, e, c, se, act, s in cfg:
            layers.append(InvertedResidual(cin, c, s, e, k, nn.Hardswish if act == "hs" else nn.ReLU, se))
            cin = c
        layers += [nn.Conv2d(cin, 288, 1, bias=False), nn.BatchNorm2d(288), nn.Hardswish(inplace=True)]
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Sequential(nn.Linear(288, 512), nn.Hardswish(inplace=True), nn.Dropout(0.2),
                                        nn.Linear(512, classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x).mean((2, 3)))


class MCUNetLike(nn.Module):
    """An MCUNet-style searched net: MBConv blocks with mixed 3/5/7 kernels and expansions, 144×144."""

    def __init__(self, classes: int = 2) -> None:
        super().__init__()
        cfg = [(3, 1, 8, 1), (7, 3, 16, 2), (3, 4, 16, 1), (5, 3, 24, 2), (7, 4, 24, 1), (5, 6, 40, 2),
               (3, 4, 48, 2)]
        layers: list[nn.Module] = [nn.Conv2d(3, 16, 3, 2, 1, bias=False), *_bn_relu6(16)]
        cin = 16
        for k, e, c, s in cfg:
            layers.append(InvertedResidual(cin, c, s, e, k))
            cin = c
        self.features = nn.Sequential(*layers)
        self.fc = nn.Linear(cin, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(F.adaptive_avg_pool2d(self.features(x), 1).flatten(1))


class DSCNN(nn.Module):
    """DS-CNN for keyword spotting (MLPerf Tiny KWS): 49×10 MFCC input, 10×4 first kernel, 12 classes."""

    def __init__(self, c: int = 64, classes: int = 12) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, c, (10, 4), stride=(2, 2), padding=(5, 1))
        self.bn1 = nn.BatchNorm2d(c)
        blocks: list[nn.Module] = []
        for _ in range(4):
            blocks += [nn.Conv2d(c, c, 3, 1, 1, groups=c), nn.BatchNorm2d(c), nn.ReLU(inplace=True),
                       nn.Conv2d(c, c, 1), nn.BatchNorm2d(c), nn.ReLU(inplace=True)]
        self.blocks = nn.Sequential(*blocks)
        self.fc = nn.Linear(c, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu(self.bn1(self.conv1(x)))
        x = F.avg_pool2d(self.blocks(x), (x.shape[2], x.shape[3]))
        return F.softmax(self.fc(x.flatten(1)), dim=1)


class BasicBlock(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.down = (nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))
                     if stride != 1 or cin != cout else nn.Identity())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(self.conv1(x)), inplace=True)
        return F.relu(self.bn2(self.conv2(out)) + self.down(x))


class CBAM(nn.Module):
    """CBAM as its reference code writes it: channel attention (average- and max-pooled maps through one shared MLP,
    added, a sigmoid per channel), then spatial attention (the channels' max and mean, `torch.max(x, 1)[0]
    .unsqueeze(1)`, `torch.mean(x, 1).unsqueeze(1)`, concatenated, a 7×7 conv, batch norm, a sigmoid per pixel
    times every channel)."""

    def __init__(self, c: int, reduction: int = 8) -> None:
        super().__init__()
        self.mlp = nn.Sequential(nn.Flatten(), nn.Linear(c, c // reduction), nn.ReLU(), nn.Linear(c // reduction, c))
        self.spatial = nn.Sequential(nn.Conv2d(2, 1, 7, padding=3, bias=False), nn.BatchNorm2d(1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        gate = self.mlp(F.adaptive_avg_pool2d(x, 1)) + self.mlp(F.adaptive_max_pool2d(x, 1))
        x = x * torch.sigmoid(gate).unsqueeze(2).unsqueeze(3)
        pooled = torch.cat((torch.max(x, 1)[0].unsqueeze(1), torch.mean(x, 1).unsqueeze(1)), dim=1)
        return x * torch.sigmoid(self.spatial(pooled))


class CBAMBlock(BasicBlock):
    """ResNet's basic block with CBAM on its residual branch, before the addition (the CBAM paper's placement)."""

    def __init__(self, cin: int, cout: int, stride: int) -> None:
        super().__init__(cin, cout, stride)
        self.cbam = CBAM(cout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(self.conv1(x)), inplace=True)
        return F.relu(self.cbam(self.bn2(self.conv2(out))) + self.down(x))


class ResNet(nn.Module):
    """ResNet-8 (MLPerf Tiny IC, 32×32) or ResNet-18 (ImageNet stem, 7×7/2 + max pool, 224×224, slimmed); with
    `block` CBAMBlock, CBAM attention in every block."""

    def __init__(self, blocks: tuple[int, ...], widths: tuple[int, ...], imagenet: bool, classes: int,
                 block: type[BasicBlock] = BasicBlock) -> None:
        super().__init__()
        w0 = widths[0]
        if imagenet:
            self.stem = nn.Sequential(nn.Conv2d(3, w0, 7, 2, 3, bias=False), nn.BatchNorm2d(w0), nn.ReLU(inplace=True),
                                      nn.MaxPool2d(3, 2, 1))
        else:
            self.stem = nn.Sequential(nn.Conv2d(3, w0, 3, 1, 1, bias=False), nn.BatchNorm2d(w0), nn.ReLU(inplace=True))
        layers: list[nn.Module] = []
        cin = w0
        for i, (n, w) in enumerate(zip(blocks, widths)):
            for j in range(n):
                layers.append(block(cin, w, 2 if j == 0 and i > 0 else 1))
                cin = w
        self.layers = nn.Sequential(*layers)
        self.fc = nn.Linear(cin, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(self.layers(self.stem(x)), 1), 1))


class ESPCN(nn.Module):
    """ESPCN super-resolution ×2 (Shi et al. 2016) on a 48×48 luminance patch: 5×5 and 3×3 convs with tanh at low
    resolution, a conv to r² channels and `nn.PixelShuffle(r)` to 96×96 (slimmed from 64/32 channels)."""

    def __init__(self, r: int = 2) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(1, 32, 5, padding=2), nn.Tanh(), nn.Conv2d(32, 16, 3, padding=1), nn.Tanh(),
                                  nn.Conv2d(16, r * r, 3, padding=1), nn.PixelShuffle(r))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)


class Fire(nn.Module):
    def __init__(self, cin: int, squeeze: int, expand: int) -> None:
        super().__init__()
        self.squeeze = nn.Conv2d(cin, squeeze, 1)
        self.e1 = nn.Conv2d(squeeze, expand, 1)
        self.e3 = nn.Conv2d(squeeze, expand, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu(self.squeeze(x), inplace=True)
        return torch.cat([F.relu(self.e1(x), inplace=True), F.relu(self.e3(x), inplace=True)], 1)


class SqueezeNet(nn.Module):
    """SqueezeNet 1.1 (fire modules, ceil-mode max pooling, conv classifier), 224×224, slimmed."""

    def __init__(self, classes: int = 1000) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 32, 3, 2), nn.ReLU(inplace=True), nn.MaxPool2d(3, 2, ceil_mode=True),
            Fire(32, 8, 32), Fire(64, 8, 32), nn.MaxPool2d(3, 2, ceil_mode=True),
            Fire(64, 16, 64), Fire(128, 16, 64), nn.MaxPool2d(3, 2, ceil_mode=True),
            Fire(128, 24, 96), Fire(192, 32, 128))
        self.classifier = nn.Sequential(nn.Dropout(0.5), nn.Conv2d(256, classes, 1), nn.ReLU(inplace=True),
                                        nn.AdaptiveAvgPool2d((1, 1)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.flatten(self.classifier(self.features(x)), 1)


def channel_shuffle(x: torch.Tensor, groups: int) -> torch.Tensor:
    """torchvision's ShuffleNetV2 channel shuffle: view to 5-D, transpose, contiguous, view back."""
    n, c, h, w = x.size()
    x = x.view(n, groups, c // groups, h, w)
    x = torch.transpose(x, 1, 2).contiguous()
    return x.view(n, -1, h, w)


class ShuffleUnit(nn.Module):
    """A ShuffleNetV2 unit as torchvision writes it: stride 1 splits the channels with `chunk` and passes one
    half through; stride 2 runs both branches on the whole input; the halves concatenated, then shuffled."""

    def __init__(self, cin: int, cout: int, stride: int) -> None:
        super().__init__()
        self.stride = stride
        half = cout // 2
        if stride > 1:
            self.branch1 = nn.Sequential(nn.Conv2d(cin, cin, 3, stride, 1, groups=cin, bias=False),
                                         nn.BatchNorm2d(cin), nn.Conv2d(cin, half, 1, bias=False),
                                         nn.BatchNorm2d(half), nn.ReLU(inplace=True))
        b_in = cin if stride > 1 else half
        self.branch2 = nn.Sequential(nn.Conv2d(b_in, half, 1, bias=False), nn.BatchNorm2d(half),
                                     nn.ReLU(inplace=True),
                                     nn.Conv2d(half, half, 3, stride, 1, groups=half, bias=False),
                                     nn.BatchNorm2d(half), nn.Conv2d(half, half, 1, bias=False),
                                     nn.BatchNorm2d(half), nn.ReLU(inplace=True))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.stride == 1:
            x1, x2 = x.chunk(2, dim=1)
            out = torch.cat((x1, self.branch2(x2)), dim=1)
        else:
            out = torch.cat((self.branch1(x), self.branch2(x)), dim=1)
        return channel_shuffle(out, 2)


class ShuffleNetV2(nn.Module):
    """ShuffleNetV2 0.5x as torchvision writes it (chunk, channel shuffle by view / transpose / view, max-pooled
    stem, `x.mean([2, 3])`), 224×224, 1000 classes; two units per stage instead of 4 / 8 / 4, head 512 wide."""

    def __init__(self, classes: int = 1000) -> None:
        super().__init__()
        self.conv1 = nn.Sequential(nn.Conv2d(3, 24, 3, 2, 1, bias=False), nn.BatchNorm2d(24), nn.ReLU(inplace=True))
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        stages, cin = [], 24
        for cout in (48, 96, 192):
            stages.append(nn.Sequential(ShuffleUnit(cin, cout, 2), ShuffleUnit(cout, cout, 1)))
            cin = cout
        self.stages = nn.Sequential(*stages)
        self.conv5 = nn.Sequential(nn.Conv2d(cin, 512, 1, bias=False), nn.BatchNorm2d(512), nn.ReLU(inplace=True))
        self.fc = nn.Linear(512, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv5(self.stages(self.maxpool(self.conv1(x))))
        return self.fc(x.mean([2, 3]))


class PNet(nn.Module):
    """MTCNN's proposal net: PReLU, ceil-mode max pool, two heads (per-pixel face softmax, box offsets), 12×12."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1, self.prelu1 = nn.Conv2d(3, 10, 3), nn.PReLU(10)
        self.pool1 = nn.MaxPool2d(2, 2, ceil_mode=True)
        self.conv2, self.prelu2 = nn.Conv2d(10, 16, 3), nn.PReLU(16)
        self.conv3, self.prelu3 = nn.Conv2d(16, 32, 3), nn.PReLU(32)
        self.conv4_1 = nn.Conv2d(32, 2, 1)
        self.conv4_2 = nn.Conv2d(32, 4, 1)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = self.pool1(self.prelu1(self.conv1(x)))
        x = self.prelu3(self.conv3(self.prelu2(self.conv2(x))))
        return F.softmax(self.conv4_1(x), dim=1), self.conv4_2(x)


class ONet(nn.Module):
    """MTCNN's output net: PReLU, ceil-mode pooling, a permute before the flatten, three heads, 48×48."""

    def __init__(self) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(3, 32, 3), nn.PReLU(32), nn.MaxPool2d(3, 2, ceil_mode=True),
            nn.Conv2d(32, 64, 3), nn.PReLU(64), nn.MaxPool2d(3, 2, ceil_mode=True),
            nn.Conv2d(64, 64, 3), nn.PReLU(64), nn.MaxPool2d(2, 2, ceil_mode=True),
            nn.Conv2d(64, 128, 2), nn.PReLU(128))
        self.dense5, self.prelu5 = nn.Linear(1152, 256), nn.PReLU(256)
        self.dense6_1, self.dense6_2, self.dense6_3 = nn.Linear(256, 2), nn.Linear(256, 4), nn.Linear(256, 10)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        x = self.body(x).permute(0, 2, 3, 1)
        x = self.prelu5(self.dense5(x.contiguous().view(x.shape[0], -1)))
        return F.softmax(self.dense6_1(x), dim=1), self.dense6_2(x), self.dense6_3(x)


class TinyUNet(nn.Module):
    """A tiny U-Net for segmentation: two downsamplings, nearest and bilinear upsampling and a transposed
    conv, skip connections by channel concat, 1×64×64 input, 3-class per-pixel softmax."""

    def __init__(self) -> None:
        super().__init__()

        def block(cin: int, cout: int) -> nn.Sequential:
            return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1), nn.BatchNorm2d(cout), nn.ReLU(inplace=True))
        self.d1, self.d2, self.mid = block(1, 8), block(8, 16), block(16, 16)
        self.up2 = nn.ConvTranspose2d(16, 16, 2, stride=2)
        self.u2, self.u1 = block(32, 8), block(16, 8)
        self.head = nn.Conv2d(8, 3, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a = self.d1(x)
        b = self.d2(F.max_pool2d(a, 2))
        m = self.mid(F.max_pool2d(b, 2))
        m = self.up2(m) + F.interpolate(m, scale_factor=2, mode="bilinear", align_corners=False)
        y = self.u2(torch.cat([m, b], 1))
        y = F.interpolate(y, scale_factor=2, mode="nearest")
        y = self.u1(torch.cat([y, a], 1))
        return torch.softmax(self.head(y), dim=1)


class OddConvs(nn.Module):
    """What else users write: 5×5, 1×3 / 3×1, dilated and grouped convs, asymmetric `F.pad`, a transposed
    conv with output_padding, standalone batch norm, SiLU, Tanh, clamp, LeakyReLU in place, channel
    split and slicing, add/mul by scalars; 3×40×40."""

    def __init__(self) -> None:
        super().__init__()
        self.c5 = nn.Conv2d(3, 12, 5, padding=2)
        self.c13 = nn.Conv2d(12, 12, (1, 3), padding=(0, 1))
        self.c31 = nn.Conv2d(12, 12, (3, 1), padding=(1, 0))
        self.dil = nn.Conv2d(12, 12, 3, padding=2, dilation=2, groups=3)
        self.bn = nn.BatchNorm2d(12)
        self.tr = nn.ConvTranspose2d(6, 8, 3, stride=2, padding=1, output_padding=1)
        self.out = nn.Conv2d(14, 4, 3, stride=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.silu(self.c5(x))
        x = torch.tanh(self.c31(self.c13(x)))
        x = self.bn(torch.clamp(self.dil(x), -1.0, 2.0))
        x = F.leaky_relu_(x * 0.5 + 0.1, 0.1)
        a, b = torch.split(x, 6, dim=1)
        y = F.max_pool2d(self.tr(a), 2)
        z = F.avg_pool2d(F.pad(b, (1, 0, 1, 0)), 2, 1)
        return self.out(torch.cat([y, z[:, 0:6]], 1)).flatten(1)


class AudioConv1d(nn.Module):
    """A 1-D audio net: Conv1d over 16 MFCC channels × 98 frames, BatchNorm1d, max pool, 10 classes."""

    def __init__(self) -> None:
        super().__init__()
        self.c1, self.b1 = nn.Conv1d(16, 24, 5, padding=2), nn.BatchNorm1d(24)
        self.c2, self.b2 = nn.Conv1d(24, 24, 3, stride=2), nn.BatchNorm1d(24)
        self.fc = nn.Linear(24, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.max_pool1d(F.relu(self.b1(self.c1(x))), 2)
        x = F.relu(self.b2(self.c2(x)))
        return self.fc(F.adaptive_avg_pool1d(x, 1).flatten(1))


ZOO: dict[str, tuple[Callable[[], nn.Module], tuple[int, ...]]] = {
    "mobilenet_v1_vww": (MobileNetV1, (1, 3, 96, 96)),
    "mobilenet_v2": (MobileNetV2, (1, 3, 224, 224)),
    "mobilenet_v3_small": (MobileNetV3Small, (1, 3, 224, 224)),
    "mcunet_like": (MCUNetLike, (1, 3, 144, 144)),
    "ds_cnn_kws": (DSCNN, (1, 1, 49, 10)),
    "resnet8_cifar": (lambda: ResNet((1, 1, 1), (16, 32, 64), False, 10), (1, 3, 32, 32)),
    "resnet8_cbam": (lambda: ResNet((1, 1, 1), (16, 32, 64), False, 10, CBAMBlock), (1, 3, 32, 32)),
    "resnet18_imagenet": (lambda: ResNet((2, 2, 2, 2), (16, 32, 64, 128), True, 1000), (1, 3, 224, 224)),
    "squeezenet": (SqueezeNet, (1, 3, 224, 224)),
    "shufflenet_v2": (ShuffleNetV2, (1, 3, 224, 224)),
    "mtcnn_pnet": (PNet, (1, 3, 12, 12)),
    "mtcnn_onet": (ONet, (1, 3, 48, 48)),
    "tiny_unet": (TinyUNet, (1, 1, 64, 64)),
    "espcn_x2": (ESPCN, (1, 1, 48, 48)),
    "odd_convs": (OddConvs, (1, 3, 40, 40)),
    "audio_conv1d": (AudioConv1d, (1, 16, 98)),
}


def build(name: str, seed: int = 0) -> tuple[nn.Module, torch.Tensor]:
    """The zoo network `name` with seeded random weights and batch-norm statistics, and an example input."""
    factory, shape = ZOO[name]
    torch.manual_seed(seed)
    model = factory()
    for mod in model.modules():
        if isinstance(mod, (nn.BatchNorm2d, nn.BatchNorm1d)):
            mod.running_mean.uniform_(-0.2, 0.2)
            mod.running_var.uniform_(0.5, 1.5)
            mod.weight.data.uniform_(0.5, 1.5)
            mod.bias.data.uniform_(-0.2, 0.2)
    return model.eval(), torch.zeros(shape)
