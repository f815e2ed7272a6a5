"""Model generator for the differential tests and the benchmark.

Writes ONNX models with random weights (fixed seeds) together with a seeded input
feed and the source framework's own outputs:

    OUT/<name>.onnx, OUT/<name>.inputs.npz, OUT/<name>.expected.npz

Two sizes per architecture: "small" variants (tests/python, seconds on 2 cores)
and "full" ones (bench/, the real sizes: resnet50, BERT-base, GPT-2 small, ...).

    python bench/models/generate.py --size small --out /tmp/models [names...]
"""
import argparse
import os
import sys

import numpy as np

TORCH_OPSET = 17


# ----------------------------------------------------------------------- torch
def _torch():
    import torch
    torch.manual_seed(0)
    return torch


def _export(model, args, path, input_names, output_names, dynamic_axes):
    torch = _torch()
    model.eval()
    with torch.no_grad():
        expected = model(*args)
    if not isinstance(expected, (tuple, list)):
        expected = (expected,)
    torch.onnx.export(model, tuple(args), path, input_names=input_names, output_names=output_names,
                      dynamic_axes=dynamic_axes, opset_version=TORCH_OPSET, do_constant_folding=True)
    feeds = {n: a.numpy() for n, a in zip(input_names, args)}
    outs = {n: e.numpy() for n, e in zip(output_names, expected)}
    return feeds, outs


def _calibrate_batchnorm(model, batch):
    """Sets BatchNorm running statistics from one random batch. With untrained weights and the default
    statistics (mean 0, var 1) activations of deep nets shrink layer by layer (mobilenet_v2 and
    efficientnet_b0 end near 1e-12), which would make any comparison pass; calibrated statistics keep
    every layer's output near unit scale, as in a trained model."""
    torch = _torch()
    bns = [m for m in model.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    if not bns:
        return
    for m in bns:
        m.reset_running_stats()
        m.momentum = None  # cumulative average: after one batch, exactly that batch's statistics
    model.train()
    with torch.no_grad():
        model(batch)
    model.eval()


def _vision(builder, size):
    def make(path, small):
        torch = _torch()
        model = builder(small)
        hw = size[0] if small else size[1]
        _calibrate_batchnorm(model, torch.randn(8, 3, hw, hw))
        x = torch.randn(1 if small else 1, 3, hw, hw)
        return _export(model, [x], path, ["input"], ["output"], {"input": {0: "batch"}, "output": {0: "batch"}})
    return make


def _tv(name, **kw):
    def build(small):
        import torchvision
        _torch()
        return getattr(torchvision.models, name)(weights=None, **kw)
    return build


def _vgg(small):
    import torchvision
    from torchvision.models.vgg import VGG, make_layers
    _torch()
    if not small:
        return torchvision.models.vgg16(weights=None)
    nn = _torch().nn
    cfg = [8, "M", 16, "M", 32, 32, "M", 64, 64, "M", 64, 64, "M"]  # vgg16's shape, narrow
    m = VGG(make_layers(cfg), num_classes=10)
    # A 32x32 input leaves 1x1 maps after five pools: torch cannot export adaptive pooling from 1x1 to
    # vgg's 7x7, so pool globally and shrink the classifier to match (same layer sequence, narrower).
    m.avgpool = nn.AdaptiveAvgPool2d((1, 1))
    m.classifier = nn.Sequential(nn.Linear(64, 256), nn.ReLU(True), nn.Dropout(), nn.Linear(256, 256), nn.ReLU(True),
                                 nn.Dropout(), nn.Linear(256, 10))
    return m


class _Encoder:
    """BERT-like encoder (post-LN, GELU) written with plain torch modules."""

    @staticmethod
    def build(layers, hidden, heads, vocab=1000, causal=False):
        torch = _torch()
        nn = torch.nn

        class Block(nn.Module):
            def __init__(self):
                super().__init__()
                self.qkv = nn.Linear(hidden, 3 * hidden)
                self.proj = nn.Linear(hidden, hidden)
                self.ln1 = nn.LayerNorm(hidden)
                self.ln2 = nn.LayerNorm(hidden)
                self.ff1 = nn.Linear(hidden, 4 * hidden)
                self.ff2 = nn.Linear(4 * hidden, hidden)

            def forward(self, x, mask):
                b, t, c = x.shape
                h = self.ln1(x) if causal else x
                q, k, v = self.qkv(h).split(hidden, dim=2)
                q = q.reshape(b, t, heads, c // heads).transpose(1, 2)
                k = k.reshape(b, t, heads, c // heads).transpose(1, 2)
                v = v.reshape(b, t, heads, c // heads).transpose(1, 2)
                att = torch.matmul(q, k.transpose(-1, -2)) / float(np.sqrt(c // heads)) + mask
                y = torch.matmul(torch.softmax(att, dim=-1), v).transpose(1, 2).reshape(b, t, c)
                if causal:  # GPT-2: pre-LN
                    x = x + self.proj(y)
                    return x + self.ff2(nn.functional.gelu(self.ff1(self.ln2(x))))
                x = self.ln1(x + self.proj(y))
                return self.ln2(x + self.ff2(nn.functional.gelu(self.ff1(x))))

        class Model(nn.Module):
            def __init__(self):
                super().__init__()
                self.tok = nn.Embedding(vocab, hidden)
                self.pos = nn.Embedding(512, hidden)
                self.blocks = nn.ModuleList([Block() for _ in range(layers)])
                self.ln = nn.LayerNorm(hidden)
                self.head = nn.Linear(hidden, vocab if causal else 2)

            def forward(self, ids, attention_mask):
                t = ids.shape[1]
                x = self.tok(ids) + self.pos(torch.arange(t).unsqueeze(0))
                mask = (1.0 - attention_mask[:, None, None, :].float()) * -10000.0
                if causal:
                    tri = torch.triu(torch.full((t, t), -10000.0), diagonal=1)
                    mask = mask + tri
                for blk in self.blocks:
                    x = blk(x, mask)
                x = self.ln(x)
                return self.head(x if causal else x[:, 0])

        return Model()


def _transformer(layers_small, hidden_small, heads_small, layers, hidden, heads, seq_small, seq, causal):
    def make(path, small):
        torch = _torch()
        L, H, A, T = (layers_small, hidden_small, heads_small, seq_small) if small else (layers, hidden, heads, seq)
        model = _Encoder.build(L, H, A, causal=causal)
        # small: a batch of two whose second row is padded, so the masked attention path is exercised
        B = 2 if small else 1
        ids = torch.randint(0, 1000, (B, T))
        mask = torch.ones(B, T, dtype=torch.int64)
        if small:
            mask[1, T - 5:] = 0
        return _export(model, [ids, mask], path, ["input_ids", "attention_mask"], ["output"],
                       {"input_ids": {0: "batch", 1: "seq"}, "attention_mask": {0: "batch", 1: "seq"}})
    return make


def _rnn(kind):
    def make(path, small):
        torch = _torch()
        nn = torch.nn
        hidden = 32 if small else 256
        layers = 1 if small else 2
        steps = 10 if small else 50

        class Model(nn.Module):
            def __init__(self):
                super().__init__()
                self.rnn = getattr(nn, kind)(16, hidden, num_layers=layers, batch_first=True)
                self.fc = nn.Linear(hidden, 4)

            def forward(self, x):
                y, _ = self.rnn(x)
                return self.fc(y[:, -1])

        x = torch.randn(2, steps, 16)
        return _export(Model(), [x], path, ["input"], ["output"], {"input": {0: "batch"}, "output": {0: "batch"}})
    return make


# --------------------------------------------------------------- scikit-learn
def _sk(kind):
    def make(path, small):
        from sklearn.datasets import make_classification, make_regression
        from skl2onnx import to_onnx
        n_est = 10 if small else 100
        rng = np.random.RandomState(0)
        if kind.endswith("Regressor") or kind == "LinearRegression":
            X, y = make_regression(n_samples=300, n_features=10, random_state=0)
        else:
            X, y = make_classification(n_samples=300, n_features=10, n_informative=6, n_classes=3, random_state=0)
        X = X.astype(np.float32)
        if kind == "RandomForestClassifier":
            from sklearn.ensemble import RandomForestClassifier as M
            model = M(n_estimators=n_est, max_depth=8, random_state=0)
        elif kind == "RandomForestRegressor":
            from sklearn.ensemble import RandomForestRegressor as M
            model = M(n_estimators=n_est, max_depth=8, random_state=0)
        elif kind == "GradientBoostingClassifier":
            from sklearn.ensemble import GradientBoostingClassifier as M
            model = M(n_estimators=n_est, max_depth=3, random_state=0)
        elif kind == "GradientBoostingRegressor":
            from sklearn.ensemble import GradientBoostingRegressor as M
            model = M(n_estimators=n_est, max_depth=3, random_state=0)
        elif kind == "LogisticRegression":
            from sklearn.linear_model import LogisticRegression as M
            model = M(max_iter=500)
        elif kind == "ScalerPipeline":
            from sklearn.linear_model import LogisticRegression
            from sklearn.pipeline import make_pipeline
            from sklearn.preprocessing import StandardScaler
            model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=500))
        elif kind == "SVC":
            from sklearn.svm import SVC as M
            model = M(probability=True, random_state=0)
        elif kind == "SVR":
            from sklearn.svm import SVR as M
            model = M()
        else:
            raise ValueError(kind)
        model.fit(X, y)
        options = {id(model): {"zipmap": False}} if hasattr(model, "predict_proba") else None
        onx = to_onnx(model, X[:1], options=options, target_opset={"": 17, "ai.onnx.ml": 3})
        with open(path, "wb") as f:
            f.write(onx.SerializeToString())
        x = X[rng.choice(len(X), 64 if small else 1000)]
        expected = {}
        outs = [o.name for o in onx.graph.output]
        if hasattr(model, "predict_proba"):
            expected[outs[0]] = model.predict(x).astype(np.int64)
            expected[outs[1]] = model.predict_proba(x).astype(np.float32)
        else:
            expected[outs[0]] = model.predict(x).astype(np.float32).reshape(-1, 1)
        return {onx.graph.input[0].name: x}, expected
    return make


def _boost(lib, task):
    def make(path, small):
        from sklearn.datasets import make_classification, make_regression
        from onnxmltools.convert import convert_lightgbm, convert_xgboost
        from onnxmltools.convert.common.data_types import FloatTensorType
        n_est = 10 if small else 100
        if task == "classifier":
            X, y = make_classification(n_samples=300, n_features=10, n_informative=6, n_classes=3, random_state=0)
        else:
            X, y = make_regression(n_samples=300, n_features=10, random_state=0)
        X = X.astype(np.float32)
        if lib == "lightgbm":
            import lightgbm as lgb
            model = (lgb.LGBMClassifier if task == "classifier" else lgb.LGBMRegressor)(
                n_estimators=n_est, num_leaves=15, random_state=0, verbose=-1)
            model.fit(X, y)
            onx = convert_lightgbm(model, initial_types=[("input", FloatTensorType([None, 10]))],
                                   zipmap=False, target_opset=15)
        else:
            import xgboost as xgb
            model = (xgb.XGBClassifier if task == "classifier" else xgb.XGBRegressor)(
                n_estimators=n_est, max_depth=4, random_state=0)
            model.fit(X, y)
            onx = convert_xgboost(model, initial_types=[("input", FloatTensorType([None, 10]))], target_opset=15)
        with open(path, "wb") as f:
            f.write(onx.SerializeToString())
        x = X[:64]
        outs = [o.name for o in onx.graph.output]
        if task == "classifier":
            expected = {outs[0]: model.predict(x).astype(np.int64), outs[1]: model.predict_proba(x).astype(np.float32)}
        else:
            expected = {outs[0]: model.predict(x).astype(np.float32).reshape(-1, 1)}
        return {"input": x}, expected
    return make


MODELS = {
    # name: (maker, framework tolerance (rtol, atol) vs. the framework's own outputs)
    "resnet18": (_vision(_tv("resnet18"), (32, 224)), (1e-3, 1e-4)),
    "resnet50": (_vision(_tv("resnet50"), (32, 224)), (1e-3, 1e-4)),
    "mobilenet_v2": (_vision(_tv("mobilenet_v2"), (32, 224)), (1e-3, 1e-4)),
    "squeezenet1_1": (_vision(_tv("squeezenet1_1"), (64, 224)), (1e-3, 1e-4)),
    "efficientnet_b0": (_vision(_tv("efficientnet_b0"), (32, 224)), (1e-3, 1e-4)),
    "vgg16": (_vision(_vgg, (32, 224)), (1e-3, 1e-4)),
    "bert_base": (_transformer(2, 96, 12, 12, 768, 12, 16, 128, False), (1e-3, 1e-4)),
    "bert_small": (_transformer(2, 64, 4, 4, 256, 4, 16, 128, False), (1e-3, 1e-4)),
    "gpt2_small": (_transformer(2, 96, 12, 12, 768, 12, 16, 128, True), (1e-3, 1e-3)),
    "lstm": (_rnn("LSTM"), (1e-3, 1e-5)),
    "gru": (_rnn("GRU"), (1e-3, 1e-5)),
    "sk_random_forest_classifier": (_sk("RandomForestClassifier"), (1e-4, 1e-5)),
    "sk_random_forest_regressor": (_sk("RandomForestRegressor"), (1e-4, 1e-3)),
    "sk_gradient_boosting_classifier": (_sk("GradientBoostingClassifier"), (1e-4, 1e-5)),
    "sk_gradient_boosting_regressor": (_sk("GradientBoostingRegressor"), (1e-4, 1e-3)),
    "sk_logistic_regression": (_sk("LogisticRegression"), (1e-4, 1e-5)),
    "sk_scaler_pipeline": (_sk("ScalerPipeline"), (1e-4, 1e-5)),
    "sk_svc": (_sk("SVC"), (1e-3, 1e-4)),
    "sk_svr": (_sk("SVR"), (1e-3, 1e-3)),
    "lightgbm_classifier": (_boost("lightgbm", "classifier"), (1e-4, 1e-5)),
    "lightgbm_regressor": (_boost("lightgbm", "regressor"), (1e-4, 1e-3)),
    "xgboost_classifier": (_boost("xgboost", "classifier"), (1e-4, 1e-5)),
    "xgboost_regressor": (_boost("xgboost", "regressor"), (1e-4, 1e-3)),
}


def generate(name, out_dir, small):
    maker, _ = MODELS[name]
    path = os.path.join(out_dir, name + ".onnx")
    feeds, expected = maker(path, small)
    np.savez(os.path.join(out_dir, name + ".inputs.npz"), **feeds)
    np.savez(os.path.join(out_dir, name + ".expected.npz"), **expected)
    return path


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size", choices=["small", "full"], default="small")
    ap.add_argument("--out", required=True)
    ap.add_argument("names", nargs="*")
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    for name in a.names or list(MODELS):
        try:
            path = generate(name, a.out, a.size == "small")
            print(f"{name}: {path} ({os.path.getsize(path) / 1e6:.1f} MB)")
        except Exception as e:  # keep going: report which generator failed
            print(f"{name}: FAILED: {type(e).__name__}: {e}", file=sys.stderr)


if __name__ == "__main__":
    main()
