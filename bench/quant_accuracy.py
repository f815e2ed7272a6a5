"""Accuracy of reduced precision (issue 11, item 6): fp32 vs int8 (oxrt-quantized and ORT-quantized) vs fp16
vs bf16 emulation, on real data where there is some. Writes docs/precision.md.

    python bench/quant_accuracy.py [--out docs/precision.md]

Models: the digits CNN of examples/ (sklearn digits test split), a scikit-learn MLP on digits converted with
skl2onnx, a small BERT-style text classifier (random init, random token ids), torchvision ResNet-18 (random
init) on synthetic images. int8 files are made with per-channel weights and reduce_range (7-bit weights,
exact on AVX2's u8 x s8 kernels in both runtimes), for Conv/MatMul/Gemm only and with each tool's default op
types (activation ops quantized too); each int8 file runs in the runtime named in its row.
"""
import argparse
import os
import sys
import tempfile

import numpy as np
import onnx
import onnxruntime as ort
import onnxruntime.quantization as oq

import oxrt
import oxrt.quantization as xq
from oxrt.float16 import convert_float_to_float16

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def run(rt, path, feed, bf16=None):
    so = rt.SessionOptions()
    if bf16:
        so.add_session_config_entry("session.bf16_compute", bf16)
    s = rt.InferenceSession(path, so, providers=["CPUExecutionProvider"])
    return s.run(None, feed)[0].astype(np.float32)


class Reader:
    def __init__(self, feeds):
        self.it = iter(feeds)

    def get_next(self):
        return next(self.it, None)


class XReader(Reader, xq.CalibrationDataReader):
    pass


class OReader(Reader, oq.CalibrationDataReader):
    pass


def variants(path, calib, tmp, name):
    """(label, runtime, file, bf16 mode) for every precision of one model."""
    out = []
    for who, mod, R in (("oxrt", xq, XReader), ("ORT", oq, OReader)):
        s = os.path.join(tmp, f"{name}_{who}_static.onnx")
        d = os.path.join(tmp, f"{name}_{who}_dynamic.onnx")
        try:
            mod.quantize_static(path, s, R(calib), quant_format=mod.QuantFormat.QDQ, per_channel=True,
                                reduce_range=True, activation_type=mod.QuantType.QUInt8,
                                weight_type=mod.QuantType.QInt8, op_types_to_quantize=["Conv", "MatMul", "Gemm"])
            out.append((f"int8 static QDQ ({who} tool)", s))
        except Exception as e:  # noqa: BLE001 - reported in the table
            out.append((f"int8 static QDQ ({who} tool): failed: {str(e)[:80]}", None))
        a = os.path.join(tmp, f"{name}_{who}_static_all.onnx")
        try:  # each tool's default op list: activations of Add, MaxPool, Relu, ... quantized as well
            mod.quantize_static(path, a, R(calib), quant_format=mod.QuantFormat.QDQ, per_channel=True,
                                reduce_range=True, activation_type=mod.QuantType.QUInt8,
                                weight_type=mod.QuantType.QInt8)
            out.append((f"int8 static QDQ, default op types ({who} tool)", a))
        except Exception as e:  # noqa: BLE001
            out.append((f"int8 static QDQ, default op types ({who} tool): failed: {str(e)[:80]}", None))
        try:
            mod.quantize_dynamic(path, d, per_channel=True, reduce_range=True, weight_type=mod.QuantType.QInt8,
                                 op_types_to_quantize=["Conv", "MatMul", "Gemm"])
            out.append((f"int8 dynamic ({who} tool)", d))
        except Exception as e:  # noqa: BLE001
            out.append((f"int8 dynamic ({who} tool): failed: {str(e)[:80]}", None))
    h = os.path.join(tmp, f"{name}_fp16.onnx")
    onnx.save(convert_float_to_float16(path, keep_io_types=True), h)
    out.append(("fp16 (oxrt.float16)", h))
    return out


def evaluate(name, path, feed, calib, labels=None, topk=1, tmp=None):
    ref = run(oxrt, path, feed)
    rows = []

    def row(label, rt_name, y):
        agree = np.mean(np.argsort(-y, 1)[:, :topk] == np.argsort(-ref, 1)[:, :topk]) if topk > 1 else \
            np.mean(y.argmax(1) == ref.argmax(1))
        acc = np.mean(y.argmax(1) == labels) if labels is not None else None
        rows.append((label, rt_name, acc, agree, float(np.abs(y - ref).max()), float(np.abs(ref).max())))

    row("fp32", "oxrt", ref)
    row("fp32", "ORT", run(ort, path, feed))
    for label, f in variants(path, calib, tmp, name):
        if f is None:
            rows.append((label, "-", None, None, None, None))
            continue
        for rt_name, rt in (("oxrt", oxrt), ("ORT", ort)):
            try:
                row(label, rt_name, run(rt, f, feed))
            except Exception as e:  # noqa: BLE001
                rows.append((label + f": {str(e)[:60]}", rt_name, None, None, None, None))
    row("bf16 compute, emulated (session.bf16_compute=emulate)", "oxrt", run(oxrt, path, feed, "emulate"))
    if oxrt._oxrt.bf16_info()["native_kernel"]:
        row("bf16 compute, AVX512_BF16 (session.bf16_compute=1)", "oxrt", run(oxrt, path, feed, "1"))
    return rows


def digits_cnn(tmp):
    d = os.path.join(ROOT, "examples", "digits")
    x, y = np.load(os.path.join(d, "test_x.npy")), np.load(os.path.join(d, "test_y.npy"))
    calib = [{"image": x[i:i + 32]} for i in range(0, 128, 32)]
    return "digits CNN (examples/digits, 360 test images)", os.path.join(d, "model.onnx"), {"image": x}, calib, y, 1


def digits_mlp(tmp):
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split
    from sklearn.neural_network import MLPClassifier
    from skl2onnx import to_onnx
    X, y = load_digits(return_X_y=True)
    X = (X / 16).astype(np.float32)
    Xtr, Xte, ytr, yte = train_test_split(X, y, test_size=0.3, random_state=0)
    clf = MLPClassifier((64, 32), max_iter=300, random_state=0).fit(Xtr, ytr)
    m = to_onnx(clf, Xtr[:1], options={id(clf): {"zipmap": False}}, target_opset=17)
    # the probabilities output first (the label output is argmax)
    outs = [o for o in m.graph.output if o.name == "probabilities"] + [o for o in m.graph.output if o.name != "probabilities"]
    del m.graph.output[:]
    m.graph.output.extend(outs)
    p = os.path.join(tmp, "mlp.onnx")
    onnx.save(m, p)
    name = m.graph.input[0].name
    calib = [{name: Xtr[i:i + 64]} for i in range(0, 256, 64)]
    return f"scikit-learn MLP on digits (skl2onnx, {len(Xte)} test rows)", p, {name: Xte}, calib, yte, 1


def text_classifier(tmp):
    import torch
    from torch import nn
    torch.manual_seed(0)

    class Tiny(nn.Module):
        def __init__(self):
            super().__init__()
            self.emb = nn.Embedding(1000, 64)
            self.pos = nn.Parameter(torch.randn(1, 32, 64) * 0.02)
            layer = nn.TransformerEncoderLayer(64, 4, 128, dropout=0.0, batch_first=True)
            self.enc = nn.TransformerEncoder(layer, 2)
            self.cls = nn.Linear(64, 4)

        def forward(self, ids):
            return self.cls(self.enc(self.emb(ids) + self.pos).mean(1))

    m = Tiny().eval()
    ids = torch.randint(0, 1000, (64, 32))
    p = os.path.join(tmp, "bert.onnx")
    torch.onnx.export(m, (ids[:1],), p, input_names=["ids"], output_names=["logits"],
                      dynamic_axes={"ids": {0: "N"}, "logits": {0: "N"}}, opset_version=17)
    ids = ids.numpy().astype(np.int64)
    calib = [{"ids": ids[i:i + 16]} for i in range(0, 64, 16)]
    test = torch.randint(0, 1000, (128, 32)).numpy().astype(np.int64)
    return "BERT-style text classifier (2 layers, d=64, random init, 128 random sequences)", p, {"ids": test}, calib, None, 1


def torchvision_cnn(tmp):
    import torch
    import torchvision
    torch.manual_seed(0)
    m = torchvision.models.resnet18(num_classes=1000).eval()
    x = torch.rand(16, 3, 64, 64)
    p = os.path.join(tmp, "resnet18.onnx")
    torch.onnx.export(m, (x[:1],), p, input_names=["x"], output_names=["y"], dynamic_axes={"x": {0: "N"}, "y": {0: "N"}},
                      opset_version=17)
    calib = [{"x": torch.rand(8, 3, 64, 64).numpy()} for _ in range(2)]
    return "torchvision ResNet-18 (random init, 16 synthetic 64x64 images; top-5 agreement)", p, {"x": x.numpy()}, calib, None, 5


def fmt(v, pct=False):
    if v is None:
        return "-"
    return f"{100 * v:.1f}%" if pct else f"{v:.4g}"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=os.path.join(ROOT, "docs", "precision.md"))
    args = ap.parse_args()
    lines = []
    info = oxrt._oxrt.bf16_info()
    with tempfile.TemporaryDirectory() as tmp:
        for make in (digits_cnn, digits_mlp, text_classifier, torchvision_cnn):
            title, path, feed, calib, labels, topk = make(tmp)
            print(title, file=sys.stderr)
            rows = evaluate(make.__name__, path, feed, calib, labels, topk, tmp)
            lines.append(f"\n### {title}\n")
            lines.append(f"| precision | runtime | top-1 accuracy | {'top-5' if topk > 1 else 'top-1'} agreement with fp32 "
                         "| max abs error vs fp32 | max abs fp32 value |")
            lines.append("|---|---|---|---|---|---|")
            for label, rt_name, acc, agree, err, scale in rows:
                lines.append(f"| {label} | {rt_name} | {fmt(acc, True)} | {fmt(agree, True)} | {fmt(err)} | {fmt(scale)} |")
    body = "\n".join(lines)
    print(body)
    head = open(os.path.join(HERE, "..", "docs", "precision.md")).read().split("<!-- results -->")[0] \
        if os.path.exists(args.out) else ""
    with open(args.out, "w") as f:
        f.write(head + "<!-- results -->\n" + f"CPU bfloat16 support: {info['cpu_has_bf16']}, native kernel in this "
                f"build: {info['native_kernel']}.\n" + body + "\n")


if __name__ == "__main__":
    main()
