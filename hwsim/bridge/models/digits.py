"""Digits classifiers: an MLP and a small CNN trained on scikit-learn's bundled 8x8 digits.

Trained at first use in seconds (seed 0, one thread), cached in the user cache directory
(``digits-mlp-v1.pt`` / ``digits-cnn-v1.pt``). 1257 training / 540 held-out images (stratified
split, ``random_state=0``). Metric: top-1 accuracy on the held-out split. End-to-end smoke tests:
they are not sensitive to 4-bit formats (only 2-bit breaks them).
"""

from __future__ import annotations

from typing import Any

from hwsim.bridge.models import EvalResult, ModelSpec

__all__ = ["MLP_SPEC", "CNN_SPEC", "data", "build"]

_VERSION = 1
_EPOCHS = {"mlp": 60, "cnn": 30}


def data():
    """(x_train, y_train, x_test, y_test) as float32 / int64 torch tensors, pixels scaled to [0, 1]."""
    import numpy as np
    import torch
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    pixels, target = load_digits(return_X_y=True)
    x = (pixels / 16.0).astype(np.float32)
    xtr, xte, ytr, yte = train_test_split(x, target, test_size=540, random_state=0, stratify=target)
    return (torch.from_numpy(xtr), torch.from_numpy(ytr).long(), torch.from_numpy(xte),
            torch.from_numpy(yte).long())


def build(kind: str):
    import torch.nn as nn

    if kind == "mlp":
        return nn.Sequential(nn.Linear(64, 256), nn.ReLU(), nn.Linear(256, 256), nn.ReLU(), nn.Linear(256, 10))
    return nn.Sequential(
        nn.Unflatten(1, (1, 8, 8)),
        nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(),
        nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(32 * 4 * 4, 64), nn.ReLU(), nn.Linear(64, 10))


def _train(kind: str):
    import torch

    from hwsim.bridge._data import cache_dir

    path = cache_dir() / f"digits-{kind}-v{_VERSION}.pt"
    model = build(kind)
    if path.exists():
        model.load_state_dict(torch.load(path, weights_only=True))
        return model.eval()
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        gen = torch.Generator().manual_seed(0)
        with torch.random.fork_rng():
            torch.manual_seed(0)
            model = build(kind)
        xtr, ytr, _, _ = data()
        opt = torch.optim.Adam(model.parameters(), lr=1e-3)
        model.train()
        for _ in range(_EPOCHS[kind]):
            perm = torch.randperm(len(xtr), generator=gen)
            for i in range(0, len(xtr), 64):
                idx = perm[i:i + 64]
                opt.zero_grad()
                loss = torch.nn.functional.cross_entropy(model(xtr[idx]), ytr[idx])
                loss.backward()
                opt.step()
    finally:
        torch.set_num_threads(threads)
    from hwsim.files import atomic_write

    with atomic_write(path) as fh:  # parallel test workers never read a half-written file
        torch.save(model.state_dict(), fh)
    return model.eval()


def _evaluate(model: Any, *, size: str = "ci", progress=None, reference=None) -> EvalResult:
    import torch

    _, _, xte, yte = data()
    correct, batch = 0, 180
    preds = []
    with torch.inference_mode():
        for i in range(0, len(xte), batch):
            p = model(xte[i:i + batch]).argmax(-1)
            preds.append(p)
            correct += int((p == yte[i:i + batch]).sum())
            if progress is not None:
                progress(min(i + batch, len(xte)), len(xte))
    pred = torch.cat(preds)
    acc = correct / len(xte)
    metrics = {"top1": acc}
    if reference is not None:
        metrics["agreement_with_fp32"] = float((pred == reference).float().mean())
    return EvalResult(acc, metrics, pred)


MLP_SPEC = ModelSpec(
    name="digits-mlp", description="MLP 64-256-256-10 trained on sklearn digits (3 Linear)",
    metric_name="top1", higher_is_better=True, load=lambda: _train("mlp"), evaluate=_evaluate,
    sizes={"ci": "540 held-out images", "full": "540 held-out images"})
CNN_SPEC = ModelSpec(
    name="digits-cnn", description="CNN 2 Conv2d + 2 Linear trained on sklearn digits",
    metric_name="top1", higher_is_better=True, load=lambda: _train("cnn"), evaluate=_evaluate,
    sizes={"ci": "540 held-out images", "full": "540 held-out images"})
