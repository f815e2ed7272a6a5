"""The blocked-channel layout (pass nchwc_layout, com.microsoft.nchwc operators): small CNNs run with the layout off
(OXRT_NCHWC=0), with the default region rule (regions holding a depthwise conv) and with every region blocked
(OXRT_NCHWC=all); all three must match ONNX Runtime, and the profile must show the reorders exactly when the
layout is expected to apply (every region ends in a ReorderOutput; the RGB stems read NCHW input directly,
so there may be no ReorderInput). Channel counts are chosen to leave partial blocks (pad channels) at B = 8 and 16."""
import os
import re

import numpy as np
import pytest

from conftest import oxrt_outputs, ort_outputs, run_cli

onnx = pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402


# the default ISA level here has 16-channel blocks (oxrt_cpu_isa: AVX-512 unless OXRT_ISA caps it)
AVX512 = os.environ.get("OXRT_ISA", "avx512") == "avx512" and "avx512f" in open("/proc/cpuinfo").read()


class Net:
    def __init__(self, seed):
        self.rng = np.random.default_rng(seed)
        self.nodes, self.inits, self.k = [], [], 0

    def name(self, base):
        self.k += 1
        return f"{base}{self.k}"

    def const(self, arr):
        n = self.name("c")
        self.inits.append(numpy_helper.from_array(np.asarray(arr, np.float32), n))
        return n

    def node(self, op, ins, **attrs):
        out = self.name(op.lower())
        self.nodes.append(helper.make_node(op, ins, [out], **attrs))
        return out

    def conv(self, x, cin, cout, k=3, s=1, group=1, pad=None, act=None, dil=1):
        w = self.const(self.rng.standard_normal((cout, cin // group, k, k)) * (1.5 / np.sqrt(cin // group * k * k)))
        b = self.const(self.rng.standard_normal(cout) * 0.1)
        p = (k // 2) * dil if pad is None else pad
        y = self.node("Conv", [x, w, b], kernel_shape=[k, k], strides=[s, s], pads=[p, p, p, p], group=group,
                      dilations=[dil, dil])
        if act == "Relu6":
            return self.node("Clip", [y, self.const(0.0), self.const(6.0)])
        return self.node(act, [y]) if act else y

    def model(self, x_shape, outputs):
        g = helper.make_graph(self.nodes, "g", [helper.make_tensor_value_info("X", TensorProto.FLOAT, x_shape)],
                              [helper.make_tensor_value_info(o, TensorProto.FLOAT, None) for o in outputs], self.inits)
        return helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])


def resnet_like():
    n = Net(1)
    a = n.conv("X", 3, 24, k=7, s=2, pad=3, act="Relu")           # stem: stays NCHW (few input channels)
    a = n.node("MaxPool", [a], kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1])
    b = n.conv(a, 24, 24, act="Relu")
    b = n.conv(b, 24, 24)
    a = n.node("Relu", [n.node("Add", [a, b])])                    # residual
    c = n.conv(a, 24, 40, s=2, act="Relu")
    c = n.conv(c, 40, 40, dil=2)
    d = n.conv(a, 24, 40, k=1, s=2)                                # downsample
    a = n.node("Relu", [n.node("Add", [c, d])])
    e = n.conv(a, 40, 32, k=1, act="LeakyRelu")
    f = n.conv(a, 40, 20, k=3, act="Tanh")
    a = n.node("Concat", [e, f], axis=1)                           # 32 fills whole blocks, 20 does not
    a = n.node("Add", [a, n.node("Concat", [f, e], axis=1)])      # 20 first: this concat must stay NCHW
    a = n.node("AveragePool", [a], kernel_shape=[3, 3], strides=[1, 1], pads=[1, 1, 1, 1], count_include_pad=0)
    mid = n.conv(a, 52, 48, k=1, act="Sigmoid")                     # also a graph output
    a = n.node("GlobalAveragePool", [mid])
    # group-1 convs only: blocked by default with 16-channel blocks (AVX-512), NCHW with 8 (AVX2, portable)
    return n.model([2, 3, 45, 37], [a, mid]), AVX512


def mobilenet_like():
    n = Net(2)
    a = n.conv("X", 3, 24, s=2, act="Relu6")
    for cin, cout, s in [(24, 24, 1), (24, 40, 2), (40, 40, 1)]:
        h = n.conv(a, cin, cin * 3, k=1, act="Relu6")
        h = n.conv(h, cin * 3, cin * 3, s=s, group=cin * 3, act="Relu6")
        h = n.conv(h, cin * 3, cout, k=1)
        a = n.node("Add", [a, h]) if cin == cout and s == 1 else h
    a = n.node("HardSwish", [n.conv(a, 40, 72, k=1)])
    a = n.node("MaxPool", [a], kernel_shape=[2, 2], strides=[2, 2], ceil_mode=1)
    a = n.node("GlobalMaxPool", [a])
    return n.model([1, 3, 33, 41], [a]), True


def se_like(batch=2):
    n = Net(3)
    a = n.conv("X", 8, 40, k=1, act="Relu")
    a = n.conv(a, 40, 40, k=5, group=40, act="HardSigmoid")
    s = n.node("GlobalAveragePool", [a])
    s = n.conv(s, 40, 10, k=1, act="Relu")
    s = n.node("Sigmoid", [n.conv(s, 10, 40, k=1)])
    a = n.node("Mul", [a, s])                                      # squeeze-excitation
    b = n.node("Add", [n.node("GlobalMaxPool", [a]), a])          # broadcast Add, the scale first
    t = n.node("Sigmoid", [b])
    c = n.node("Mul", [b, t])                                      # SiLU as two nodes
    c = n.node("Mul", [s, c])                                      # scale first again
    return n.model([batch, 8, 19, 23], [c]), True


def se_like_symbolic_batch():
    """The batch unknown to the pass (a dim_param, as exported CNNs have it): the SE scale must still be blocked."""
    return se_like("N")


def mobilenet_like_with_value_info():
    """Declared types of intermediate values (what onnx shape inference writes) for values the layout replaces."""
    model, on = mobilenet_like()
    return onnx.shape_inference.infer_shapes(model), on


def winograd_like():
    """3x3 stride-1 convs in a blocked region that take the Winograd route between reorders (NchwcConv.c): on 14x14
    once C * M is large, with a fused residual Sum, and with pad channels (72 outputs)."""
    n = Net(4)
    a = n.conv("X", 64, 256, act="Relu")                           # Winograd
    g = n.conv(a, 256, 256)                                        # Winograd, the Add below becomes its Sum
    h = n.node("Relu", [n.node("Add", [g, a])])
    p = n.conv(h, 256, 72, act="Relu")                             # Winograd, 72 = 4.5 blocks
    b = n.conv(p, 72, 40, k=1)
    c = n.conv(b, 40, 40)                                          # direct: C * M too small
    return n.model([1, 64, 14, 14], [c, p]), AVX512


def affine_like():
    """A constant scalar Add / Mul after an activation (PP-LCNetV3's learnable affine), in either operand order and
    ranks 0, 1 and 4: blocked in place, so the region is not cut around them (one ReorderOutput, no ReorderInput)."""
    n = Net(5)
    a = n.conv("X", 3, 24, act="HardSwish")                        # RGB stem: reads NCHW, no ReorderInput
    a = n.node("Add", [n.node("Mul", [n.const(1.3), a]), n.const([0.2])])
    a = n.conv(a, 24, 24, group=24, act="HardSwish")
    a = n.node("Add", [n.const(-0.1), n.node("Mul", [a, n.const(np.full((1, 1, 1, 1), 0.7))])])
    return n.model([1, 3, 21, 26], [n.conv(a, 24, 40, k=1)]), True


def pplcnet_like():
    """PP-LCNetV3's learnable affine act(conv) * a + b after group-1 convs (HardSwish: over each finished run; Relu:
    in registers), a depthwise conv (one pass over Y) and a stem: folded into the conv (post_scale / post_shift);
    not when Add comes first (only the Add folds), when the conv output has another reader, or a Mul by a tensor."""
    n = Net(8)
    a = n.conv("X", 3, 16, s=2, act="HardSwish")                  # stem: reads NCHW
    a = n.node("Add", [n.node("Mul", [a, n.const(0.8)]), n.const(0.1)])
    a = n.conv(a, 16, 24, act="HardSwish")
    a = n.node("Add", [n.node("Mul", [a, n.const(1.3)]), n.const([0.2])])
    a = n.conv(a, 24, 40, k=1, act="Relu")
    a = n.node("Add", [n.const(-0.1), n.node("Mul", [n.const(np.full((1, 1, 1, 1), 0.7)), a])])
    a = n.conv(a, 40, 40, group=40, act="HardSwish")
    a = n.node("Add", [n.node("Mul", [a, n.const(0.9)]), n.const(0.05)])
    a = n.conv(a, 40, 24, k=1, act="Relu")
    a = n.node("Mul", [n.node("Add", [a, n.const(0.5)]), n.const(1.1)])   # the Add folds, the Mul stays
    e = n.conv(a, 24, 24, act="Relu6")
    a = n.node("Add", [e, n.node("Mul", [e, n.const(0.9)])])               # e read twice: nothing folds
    f = n.node("Mul", [n.conv(a, 24, 20, k=1, s=2, act="Sigmoid"), n.const(2.0)])  # a graph output
    return n.model([1, 3, 33, 47], [f]), True


def fire_like():
    """Fire modules (squeezenet): a channel Concat of convs that read one input becomes one ConvConcat whose convs
    write their slices of its output (NchwcConv.c); two images, pad channels in the last conv, a Winograd conv among
    three, and two concats that must stay (a conv output read elsewhere; activations that differ)."""
    n = Net(5)
    a = n.conv("X", 3, 32, s=2, act="Relu")                        # stem: reads NCHW
    s = n.conv(a, 32, 16, k=1, act="Relu")                         # squeeze
    a = n.node("Concat", [n.conv(s, 16, 32, k=1, act="Relu"), n.conv(s, 16, 24, act="Relu")], axis=1)  # merged
    s = n.conv(a, 56, 64, k=1, act="Relu")
    a = n.node("Concat", [n.conv(s, 64, 64, k=1, act="Relu"), n.conv(s, 64, 256, act="Relu"),  # merged, Winograd
                          n.conv(s, 64, 40, k=5, act="Relu")], axis=1)
    s = n.conv(a, 360, 32, k=1, act="Relu")
    e = n.conv(s, 32, 32, k=1, act="Relu")
    f = n.conv(s, 32, 48, act="Relu")                              # also a graph output: not merged
    a = n.node("Concat", [e, f], axis=1)
    a = n.node("Concat", [n.conv(a, 80, 16, k=1, act="Tanh"), n.conv(a, 80, 16, act="Relu")], axis=1)  # not merged
    a = n.node("GlobalAveragePool", [a])
    return n.model([2, 3, 31, 29], [a, f]), AVX512


def stem_pool_like(pads=0, ceil=1):
    """An RGB stem's MaxPool fused into it (ConvMaxPool: conv rows pooled a band at a time from scratch): two images,
    24 outputs (pad channels at B = 16), 127 conv rows in bands, with and without pool padding and ceil_mode."""
    n = Net(6)
    a = n.conv("X", 3, 24, s=2, pad=1, act="Relu")
    a = n.node("MaxPool", [a], kernel_shape=[3, 3], strides=[2, 2], pads=[pads] * 4, ceil_mode=ceil)
    a = n.conv(a, 24, 32, k=1, act="Relu")
    a = n.conv(a, 32, 32, s=2, act="Relu")
    return n.model([2, 3, 253, 61], [a]), AVX512


def stem_pool_padded():
    return stem_pool_like(pads=1, ceil=0)


@pytest.mark.parametrize("make", [resnet_like, mobilenet_like, se_like, se_like_symbolic_batch,
                                  mobilenet_like_with_value_info, winograd_like, affine_like, pplcnet_like, fire_like,
                                  stem_pool_like, stem_pool_padded])
def test_nchwc_layout_matches_ort(oxrt_bin, make, tmp_path):
    model, default_on = make()
    path = str(tmp_path / "m.onnx")
    onnx.save(model, path)
    shape = [d.dim_value or 2 for d in model.graph.input[0].type.tensor_type.shape.dim]
    feeds = {"X": np.random.default_rng(7).standard_normal(shape).astype(np.float32)}
    ref = ort_outputs(path, feeds)
    for mode, expect_blocked in [("0", False), ("1", default_on), ("all", True)]:
        env = {"OXRT_NCHWC": mode}
        got = oxrt_outputs(oxrt_bin, path, feeds, str(tmp_path / f"out_{mode}"), env=env)
        for name, r in ref.items():
            g = got[name]
            assert g.shape == r.shape, f"{mode} {name}: shape {g.shape} vs {r.shape}"
            np.testing.assert_allclose(g, r, rtol=1e-4, atol=1e-4 * max(1.0, float(np.abs(r).max())),
                                       err_msg=f"OXRT_NCHWC={mode} output {name}")
        prof = run_cli(oxrt_bin, "bench", path, "--runs", "1", "--warmup", "0", "--dim", "N=2", "--profile",
                       env=env).stdout
        assert ("ReorderOutput" in prof) == expect_blocked, \
            f"OXRT_NCHWC={mode}: reorders {'missing' if expect_blocked else 'present'}\n{prof}"
        if expect_blocked and make is affine_like:
            assert "ReorderInput" not in prof and re.search(r"ReorderOutput\s+[\d.]+\s+[\d.]+%\s+1\.0\b", prof), \
                f"OXRT_NCHWC={mode}: the scalar Add / Mul cut the region\n{prof}"
        if expect_blocked and make in (se_like, se_like_symbolic_batch):
            assert "ChannelMul" in prof, f"OXRT_NCHWC={mode}: the squeeze-excitation Mul was not blocked\n{prof}"
        if make in (stem_pool_like, stem_pool_padded):
            assert ("ConvMaxPool" in prof) == expect_blocked, f"OXRT_NCHWC={mode}: fused pool\n{prof}"
        if make is pplcnet_like:
            calls = {r.split()[0]: float(r.split()[-1]) for r in prof.splitlines()
                     if r.split() and r.split()[0] in ("Mul", "Add")}
            want = {"Mul": 2.0, "Add": 1.0}  # the Add-first chain's Mul, e's Mul and Add (NCHW: other fusions vary)
            assert calls == want or not expect_blocked, f"OXRT_NCHWC={mode}: calls {calls}, expected {want}\n{prof}"
        if make is fire_like:
            calls = {r.split()[0]: float(r.split()[-1]) for r in prof.splitlines()
                     if r.split() and r.split()[0] in ("ConvConcat", "Concat")}
            want = {"ConvConcat": 2.0, "Concat": 2.0} if expect_blocked else {"Concat": 4.0}
            assert calls == want, f"OXRT_NCHWC={mode}: operator calls {calls}, expected {want}\n{prof}"


def test_nchwc_layout_not_in_saved_model(oxrt_bin, tmp_path):
    model, _ = mobilenet_like()
    src, dst = str(tmp_path / "m.onnx"), str(tmp_path / "opt.onnx")
    onnx.save(model, src)
    run_cli(oxrt_bin, "optimize", src, dst, env={"OXRT_NCHWC": "all"})
    domains = {n.domain for n in onnx.load(dst).graph.node}
    assert "com.microsoft.nchwc" not in domains


def test_nchwc_layout_disabled_by_pass_name(oxrt_bin, tmp_path):
    """The pass is named like the others: disabling it (OXRT_OPT_DISABLE, the session's disabled_passes) keeps NCHW."""
    model, _ = mobilenet_like()
    path = str(tmp_path / "m.onnx")
    onnx.save(model, path)
    assert "nchwc_layout" in run_cli(oxrt_bin, "optimize", "--list").stdout
    on = run_cli(oxrt_bin, "bench", path, "--runs", "1", "--warmup", "0", "--profile").stdout
    off = run_cli(oxrt_bin, "bench", path, "--runs", "1", "--warmup", "0", "--profile",
                  env={"OXRT_OPT_DISABLE": "nchwc_layout"}).stdout
    assert "ReorderOutput" in on and "ReorderOutput" not in off
