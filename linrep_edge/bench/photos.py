"""Natural photos that ship inside installed packages, and random crops of them: calibration and test
inputs for ImageNet-class models with nothing downloaded (issue 15's pretrained-network bar).

The photos: scikit-image's `skimage.data` (astronaut, chelsea the cat, coffee, rocket, a motorcycle, the
Hubble deep field, a retina, an immunohistochemistry slide, and grey-scale ones: camera man, coins, the
moon, grass, gravel, brick) and scikit-learn's two sample images (china, flower). Grey-scale photos are
repeated over R, G, B. `CALIBRATION_PHOTOS` and `TEST_PHOTOS` are disjoint: test crops never come from a
photo that calibration saw.

`random_crops` takes crops in the way ImageNet training does (a random area fraction and aspect ratio, a
random place, a left-right flip with probability 1/2), resized to the model's size with antialiasing:
RGB float32 in [0, 1], NCHW.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from linrep_edge.errors import LinRepError

CALIBRATION_PHOTOS = ("astronaut", "china", "motorcycle", "hubble_deep_field", "retina", "immunohistochemistry",
                      "coins", "moon", "grass", "gravel", "brick")
TEST_PHOTOS = ("chelsea", "coffee", "rocket", "flower", "camera")


def _skimage(name: str) -> Callable[[], np.ndarray]:
    def load() -> np.ndarray:
        try:
            import skimage.data as sd
        except ImportError:
            raise LinRepError("the photos need scikit-image: pip install 'linrep-edge[imagenet]'") from None
        if name == "motorcycle":
            return np.asarray(sd.stereo_motorcycle()[0])
        return np.asarray(getattr(sd, name)())

    return load


def _sklearn(file: str) -> Callable[[], np.ndarray]:
    def load() -> np.ndarray:
        from sklearn.datasets import load_sample_image

        return np.asarray(load_sample_image(file))

    return load


PHOTOS: dict[str, Callable[[], np.ndarray]] = {
    **{n: _skimage(n) for n in ("astronaut", "chelsea", "coffee", "rocket", "motorcycle", "hubble_deep_field",
                                "retina", "immunohistochemistry", "camera", "coins", "moon", "grass", "gravel",
                                "brick")},
    "china": _sklearn("china.jpg"),
    "flower": _sklearn("flower.jpg"),
}


@functools.lru_cache(maxsize=None)
def load_photo(name: str) -> torch.Tensor:
    """A photo as RGB float32 (3, H, W) in [0, 1] (cached: do not modify it in place)."""
    if name not in PHOTOS:
        raise LinRepError(f"unknown photo {name!r}; known: {', '.join(sorted(PHOTOS))}")
    a = PHOTOS[name]()
    if a.ndim == 2:
        a = np.repeat(a[:, :, None], 3, axis=2)
    a = a[:, :, :3]
    scale = 255.0 if a.dtype == np.uint8 else float(max(1.0, a.max()))
    return torch.from_numpy(np.ascontiguousarray(a, dtype=np.float32) / scale).permute(2, 0, 1).contiguous()


def random_crops(photos: Sequence[str], n: int, size: int, seed: int, area: tuple[float, float] = (0.08, 1.0),
                 ratio: tuple[float, float] = (3 / 4, 4 / 3)) -> torch.Tensor:
    """`n` crops (N, 3, size, size) spread evenly over `photos` (crop i from photo i mod len(photos)): each a
    random area fraction in `area` of its photo with aspect ratio in `ratio` (log-uniform), at a random
    place, flipped left-right with probability 1/2, resized (bilinear, antialiased) to size × size."""
    if n < 1 or not photos:
        raise LinRepError("random_crops needs n >= 1 and at least one photo")
    images = [load_photo(p) for p in photos]
    g = torch.Generator().manual_seed(seed)
    out = torch.empty(n, 3, size, size)
    for i in range(n):
        img = images[i % len(images)]
        h, w = int(img.shape[1]), int(img.shape[2])
        u = torch.rand(5, generator=g, dtype=torch.float64).tolist()
        frac = area[0] + (area[1] - area[0]) * u[0]
        r = math.exp(math.log(ratio[0]) + (math.log(ratio[1]) - math.log(ratio[0])) * u[1])
        cw = min(w, max(8, round(math.sqrt(frac * h * w * r))))
        ch = min(h, max(8, round(math.sqrt(frac * h * w / r))))
        y0, x0 = int(u[2] * (h - ch + 1)), int(u[3] * (w - cw + 1))
        crop = img[:, y0:y0 + ch, x0:x0 + cw]
        if u[4] < 0.5:
            crop = crop.flip(2)
        out[i] = F.interpolate(crop[None], size=(size, size), mode="bilinear", antialias=True,
                               align_corners=False)[0].clamp(0.0, 1.0)
    return out
