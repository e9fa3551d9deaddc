#!/usr/bin/env python3
"""Train the embedded default model: ResNet-8 (16/32/64) on Fashion-MNIST.

Deterministic for a given seed. Training uses 55k images; 5k are held out as a validation split that
picks nothing but is printed per epoch; the test set is only reported. Writes
linrep_edge/models/resnet8_fmnist.pt (state dict + metadata, < 1 MB).

    .venv/bin/python tools/train_default.py [--epochs 10] [--seed 0]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from linrep_edge.datasets import load_fashion_mnist
from linrep_edge.method.finetune import evaluate
from linrep_edge.models.resnet8 import DEFAULT_CHECKPOINT, ResNet8, save_checkpoint

OUT = Path(__file__).resolve().parent.parent / "linrep_edge" / "models" / DEFAULT_CHECKPOINT


def augment(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """Random shifts of up to 2 pixels and horizontal flips, vectorised over the batch."""
    n, _, h, w = x.shape
    padded = F.pad(x, (2, 2, 2, 2))
    dy = torch.randint(0, 5, (n,), generator=gen)
    dx = torch.randint(0, 5, (n,), generator=gen)
    rows = (dy[:, None] + torch.arange(h)[None, :])[:, None, :, None].expand(n, 1, h, w)
    cols = (dx[:, None] + torch.arange(w)[None, :])[:, None, None, :].expand(n, 1, h, w)
    batch_idx = torch.arange(n)[:, None, None]
    crop = padded[:, 0][batch_idx, rows[:, 0], cols[:, 0]].unsqueeze(1)
    flip = torch.rand(n, generator=gen) < 0.5
    crop[flip] = crop[flip].flip(-1)
    return crop


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--lr", type=float, default=0.1)
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args()

    torch.manual_seed(args.seed)
    torch.use_deterministic_algorithms(True)
    ds = load_fashion_mnist()
    train, val = ds.train_val(5000, seed=args.seed)
    model = ResNet8()
    opt = torch.optim.SGD(model.parameters(), lr=args.lr, momentum=0.9, nesterov=True, weight_decay=5e-4)
    loader = train.loader(batch_size=128, shuffle=True, seed=args.seed)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=args.lr, total_steps=args.epochs * len(loader))
    gen = torch.Generator().manual_seed(args.seed + 1)
    t0 = time.time()
    for epoch in range(args.epochs):
        model.train()
        for x, y in loader:
            loss = F.cross_entropy(model(augment(x, gen)), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
        val_acc = evaluate(model, val.loader(512))
        print(f"epoch {epoch + 1}/{args.epochs}  loss {loss.item():.4f}  val {val_acc:.4f}  {time.time() - t0:.0f}s", flush=True)
    test_acc = evaluate(model, ds.test.loader(512))
    print(f"test accuracy {test_acc:.4f}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    meta = {"arch": "ResNet8", "widths": [16, 32, 64], "dataset": "fashion-mnist", "epochs": args.epochs,
            "seed": args.seed, "val_accuracy": val_acc, "test_accuracy": test_acc, "input_shape": [1, 1, 28, 28]}
    save_checkpoint(model.eval(), str(args.out), meta)
    print(f"wrote {args.out} ({args.out.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
