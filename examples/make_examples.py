"""Generates the small trained models shipped in examples/ (run: python examples/make_examples.py).

digits/  a small CNN trained with torch on scikit-learn's bundled 8x8 handwritten digits,
         exported to ONNX (opset 17, dynamic batch axis).
iris/    a RandomForest trained on iris and converted with skl2onnx.to_onnx: the classic
         scikit-learn-to-ONNX example (TreeEnsembleClassifier + ZipMap).
Each folder gets model.onnx plus held-out test_x.npy / test_y.npy for the demo.
Seeds are fixed, so the files are reproducible on the same library versions.
"""
import os
import sys

import numpy as np
from sklearn.datasets import load_digits, load_iris
from sklearn.ensemble import RandomForestClassifier
from sklearn.model_selection import train_test_split

HERE = os.path.dirname(os.path.abspath(__file__))


def make_digits():
    import torch
    from torch import nn

    torch.manual_seed(0)
    X, y = load_digits(return_X_y=True)
    X = (X / 16.0).astype(np.float32).reshape(-1, 1, 8, 8)
    Xtr, Xte, ytr, yte = train_test_split(X, y, test_size=0.2, random_state=0, stratify=y)

    model = nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(32 * 2 * 2, 64), nn.ReLU(), nn.Linear(64, 10))
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    xt, yt = torch.from_numpy(Xtr), torch.from_numpy(ytr).long()
    for epoch in range(30):
        model.train()
        perm = torch.randperm(len(xt))
        for i in range(0, len(xt), 64):
            idx = perm[i:i + 64]
            opt.zero_grad()
            loss = nn.functional.cross_entropy(model(xt[idx]), yt[idx])
            loss.backward()
            opt.step()
    model.eval()
    with torch.no_grad():
        acc = (model(torch.from_numpy(Xte)).argmax(1).numpy() == yte).mean()
    out = os.path.join(HERE, "digits")
    os.makedirs(out, exist_ok=True)
    torch.onnx.export(model, torch.from_numpy(Xte[:1]), os.path.join(out, "model.onnx"),
                      input_names=["image"], output_names=["logits"],
                      dynamic_axes={"image": {0: "batch"}, "logits": {0: "batch"}}, opset_version=17)
    np.save(os.path.join(out, "test_x.npy"), Xte)
    np.save(os.path.join(out, "test_y.npy"), yte.astype(np.int64))
    print(f"digits: torch accuracy on {len(yte)} held-out images: {acc:.4f}")


def make_iris():
    from skl2onnx import to_onnx

    X, y = load_iris(return_X_y=True)
    X = X.astype(np.float32)
    Xtr, Xte, ytr, yte = train_test_split(X, y, test_size=0.3, random_state=0, stratify=y)
    clf = RandomForestClassifier(n_estimators=10, max_depth=5, random_state=0)
    clf.fit(Xtr, ytr)
    onx = to_onnx(clf, Xtr[:1], target_opset={"": 17, "ai.onnx.ml": 3})
    out = os.path.join(HERE, "iris")
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "model.onnx"), "wb") as f:
        f.write(onx.SerializeToString())
    np.save(os.path.join(out, "test_x.npy"), Xte)
    np.save(os.path.join(out, "test_y.npy"), yte.astype(np.int64))
    print(f"iris: scikit-learn accuracy on {len(yte)} held-out flowers: {clf.score(Xte, yte):.4f}")


if __name__ == "__main__":
    which = sys.argv[1:] or ["digits", "iris"]
    if "digits" in which:
        make_digits()
    if "iris" in which:
        make_iris()
