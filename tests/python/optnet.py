"""The optimizer's differential net: many small random graphs built around each pass's pattern and its near
misses, each run by oxrt with optimization on and off and by ONNX Runtime; any disagreement is reported with the
pass that caused it (found by disabling the passes that changed the graph, one at a time).

Variations every pattern gets at random: the pattern's intermediate values read again by another node or
exported as graph outputs, operands that alias other buffers (through Identity, Reshape, Split, Squeeze), operands
that broadcast, residuals read again after the fused node, and the whole pattern inside an If branch (a subgraph
reading outer-scope values).

    python tests/python/optnet.py --cases 3000 --seed 7      # a longer run (make test-optnet)
The bounded run in the test command is tests/python/test_optimizer_net.py.
"""
import argparse
import math
import os
import subprocess
import sys
import tempfile

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OPSET = 17


# ------------------------------------------------------------------------------------------- graph builder
class Builder:
    """A graph under construction that knows the shape of every value it made."""

    def __init__(self, rng):
        self.rng = rng
        self.nodes, self.inits, self.inputs, self.feeds = [], [], [], {}
        self.shape = {}
        self.outputs = []  # names exported as graph outputs
        self.opset = OPSET  # a pattern may ask for an older opset (ops whose form changed)
        self._n = 0

    def name(self, base):
        self._n += 1
        return f"{base}_{self._n}"

    def input(self, shape, scale=1.0):
        n = self.name("in")
        self.inputs.append(helper.make_tensor_value_info(n, TensorProto.FLOAT, list(shape)))
        self.feeds[n] = np.asarray(self.rng.standard_normal(shape) * scale, dtype=np.float32)
        self.shape[n] = tuple(shape)
        return n

    def const(self, arr, base="c"):
        n = self.name(base)
        arr = np.asarray(arr)
        self.inits.append(numpy_helper.from_array(arr, n))
        self.shape[n] = arr.shape
        return n

    def rand(self, shape, scale=1.0, base="w"):
        return self.const((self.rng.standard_normal(shape) * scale).astype(np.float32), base)

    def node(self, op, ins, shape, n_out=1, domain="", **attrs):
        outs = [self.name(op.lower()) for _ in range(n_out)]
        self.nodes.append(helper.make_node(op, list(ins), outs, domain=domain, **attrs))
        shapes = shape if n_out > 1 else [shape]
        for o, s in zip(outs, shapes):
            self.shape[o] = tuple(s) if s is not None else None
        return outs if n_out > 1 else outs[0]

    def output(self, name):
        if name not in self.outputs:
            self.outputs.append(name)

    # ---- ops with their shapes
    def unary(self, op, x, **attrs):
        return self.node(op, [x], self.shape[x], **attrs)

    def binary(self, op, a, b):
        return self.node(op, [a, b], np.broadcast_shapes(self.shape[a], self.shape[b]))

    def conv(self, x, cout, k=1, stride=1, pad=None, group=1, dil=1, bias=True, pads=None):
        xs = self.shape[x]
        nd = len(xs) - 2
        cin = xs[1]
        if pad is None:
            pad = (k // 2) * dil
        pads = pads or [pad] * (2 * nd)
        w = self.rand((cout, cin // group) + (k,) * nd, 1.0 / math.sqrt(cin // group * k**nd))
        ins = [x, w] + ([self.rand((cout,), 0.5, "b")] if bias else [])
        out = [(xs[2 + i] + pads[i] + pads[nd + i] - dil * (k - 1) - 1) // stride + 1 for i in range(nd)]
        return self.node("Conv", ins, (xs[0], cout, *out), kernel_shape=[k] * nd, strides=[stride] * nd,
                         pads=pads, group=group, dilations=[dil] * nd)

    def reshape(self, x, shape):
        return self.node("Reshape", [x, self.const(np.array(shape, np.int64), "shape")], tuple(shape))

    def split(self, x, axis, sizes):
        s = self.shape[x]
        shapes = [s[:axis] + (k,) + s[axis + 1:] for k in sizes]
        return self.node("Split", [x, self.const(np.array(sizes, np.int64), "split")], shapes, n_out=len(sizes),
                         axis=axis)

    # ---- the variations
    def alias(self, x):
        """x through a node that may hand out the same buffer (or a view of a bigger one)."""
        s = self.shape[x]
        kind = self.rng.integers(0, 6)
        if kind == 0:
            return self.unary("Identity", x)
        if kind == 1:  # flatten and back: two Reshapes
            flat = self.reshape(x, (s[0], int(np.prod(s[1:]))))
            return self.reshape(flat, s)
        if kind == 2:  # Unsqueeze then Squeeze
            u = self.node("Unsqueeze", [x, self.const(np.array([0], np.int64), "axes")], (1,) + s)
            return self.node("Squeeze", [u, self.const(np.array([0], np.int64), "axes")], s)
        if kind == 3:  # x's copy inside a Split of Concat(x, other): a view into a bigger buffer
            other, first = self.input(s), self.rng.random() < 0.5
            cat = self.node("Concat", [x, other] if first else [other, x], (s[0], 2 * s[1]) + s[2:], axis=1)
            a, b = self.split(cat, 1, [s[1], s[1]])
            mine, rest = (a, b) if first else (b, a)
            self.maybe_reader(rest)
            return mine
        if kind == 4:  # Split into one piece
            return self.node("Split", [x, self.const(np.array([s[1]], np.int64), "split")], s, n_out=1, axis=1)
        return x

    def maybe_reader(self, x, p=0.3):
        """With probability p, x gets another reader whose result is a graph output (x is read after the
        pattern ran), or becomes a graph output itself."""
        r = self.rng.random()
        if r < p / 2:
            self.output(self.binary("Mul", x, self.const(np.float32(1.5), "k")))
        elif r < p:
            self.output(x)

    def model(self, wrap_if=False):
        outs = list(dict.fromkeys(self.outputs))
        vis = [helper.make_tensor_value_info(o, TensorProto.FLOAT, None) for o in outs]
        if not wrap_if:
            g = helper.make_graph(self.nodes, "net", self.inputs, vis, self.inits)
        else:  # the pattern becomes the then-branch; the else-branch returns the outputs' shapes as zeros
            nodes, then_names = list(self.nodes), []
            for o in outs:  # a branch may not return an outer-scope value directly
                if o in self.feeds:
                    nodes.append(helper.make_node("Identity", [o], [o + "_id"]))
                    o += "_id"
                then_names.append(o)
            then_outs = [helper.make_tensor_value_info(o, TensorProto.FLOAT, None) for o in then_names]
            then_g = helper.make_graph(nodes, "then", [], then_outs, [])
            else_nodes, else_outs = [], []
            for i, o in enumerate(outs):
                shape = self.shape.get(o)
                z = np.zeros(shape if shape is not None else (1,), np.float32)
                else_nodes.append(helper.make_node("Constant", [], [f"else_{i}"], value=numpy_helper.from_array(z)))
                else_outs.append(helper.make_tensor_value_info(f"else_{i}", TensorProto.FLOAT, None))
            else_g = helper.make_graph(else_nodes, "else", [], else_outs)
            cond = "cond"
            self.feeds[cond] = np.array(True)
            ins = self.inputs + [helper.make_tensor_value_info(cond, TensorProto.BOOL, [])]
            res = [f"res_{i}" for i in range(len(outs))]
            node = helper.make_node("If", [cond], res, then_branch=then_g, else_branch=else_g)
            g = helper.make_graph([node], "net", ins,
                                  [helper.make_tensor_value_info(r, TensorProto.FLOAT, None) for r in res],
                                  self.inits)
        m = helper.make_model(g, opset_imports=[helper.make_opsetid("", self.opset)])
        m.ir_version = 8
        return m


# ------------------------------------------------------------------------------------------------ patterns
# Each takes a Builder and builds one instance of a pass's pattern (or a near miss), exporting its result(s).
ACTS = ["Relu", "LeakyRelu", "HardSigmoid", "Clip", "Sigmoid", "Tanh", "HardSwish", "SiLU", "GELU", "HardSwishProduct"]


def _image(b, c=None, hw=None, nd=2):
    c = c or int(b.rng.choice([2, 4, 8]))
    hw = hw or int(b.rng.choice([5, 6, 8]))
    return b.input((int(b.rng.choice([1, 2])), c) + (hw,) * nd)


def _conv_any(b, x):
    """One of the convolution shapes each kernel path handles: pointwise, 3x3, depthwise, grouped, strided,
    dilated."""
    c = b.shape[x][1]
    kind = b.rng.integers(0, 7)
    if kind == 0:
        return b.conv(x, int(b.rng.choice([c, 2 * c])), k=1, bias=b.rng.random() < 0.7)
    if kind == 1:
        return b.conv(x, c, k=3, bias=b.rng.random() < 0.7)
    if kind == 2:
        return b.conv(x, c, k=3, group=c)  # depthwise (the path of issue 9)
    if kind == 3:
        return b.conv(x, c * 2, k=3, group=c)  # depthwise with channel multiplier 2
    if kind == 4 and c % 2 == 0:
        return b.conv(x, c, k=3, group=2)
    if kind == 5:
        return b.conv(x, c, k=3, stride=2)
    return b.conv(x, c, k=3, dil=2)


def _activation(b, x):
    act = ACTS[b.rng.integers(0, len(ACTS))]
    if act == "Clip":
        if b.rng.random() < 0.2:  # a non-constant bound: not a fusable clip
            return b.node("Clip", [x, b.input(()), b.const(np.float32(1.0))], b.shape[x])
        return b.node("Clip", [x, b.const(np.float32(-0.5)), b.const(np.float32(0.8))], b.shape[x])
    if act == "SiLU":  # written out, as exporters do: fuse_silu then fuse_conv_activation take it
        return b.binary("Mul", x, b.unary("Sigmoid", x))
    if act == "HardSwishProduct":  # hard-swish as models before opset 14 write it (a near miss: another alpha)
        alpha = 1 / 6 if b.rng.random() < 0.8 else 0.2
        g = b.unary("HardSigmoid", x, alpha=alpha, beta=0.5)
        return b.binary("Mul", g, x) if b.rng.random() < 0.5 else b.binary("Mul", x, g)
    if act == "GELU":
        e = b.unary("Erf", b.binary("Div", x, b.const(np.float32(math.sqrt(2.0)))))
        return b.binary("Mul", b.binary("Mul", x, b.const(np.float32(0.5))), b.binary("Add", e, b.const(np.float32(1.0))))
    if act == "LeakyRelu":
        return b.unary(act, x, alpha=float(b.rng.choice([0.01, 0.2])))
    if act == "HardSigmoid":
        return b.unary(act, x, alpha=float(b.rng.choice([0.2, 1 / 6])), beta=0.5)
    return b.unary(act, x)


def p_conv_add(b):
    """Add(conv(x), z) (+ Relu): z from an input, an alias (Split/Reshape/Identity output), a broadcast shape,
    another convolution of the same root, or a value read again later."""
    nd = 1 if b.rng.random() < 0.15 else 2
    x = _image(b, nd=nd)
    if b.rng.random() < 0.5:  # a conv or activation before, so z may share a root with the conv's input
        x = _activation(b, b.conv(x, b.shape[x][1], k=1))
    y = _conv_any(b, x) if nd == 2 else b.conv(x, b.shape[x][1], k=3)
    ys = b.shape[y]
    kind = b.rng.integers(0, 6)
    if kind == 0:
        z = b.input(ys)
    elif kind == 1:
        z = b.alias(b.input(ys))
    elif kind == 2 and ys == b.shape[x]:
        z = b.alias(x)
    elif kind == 3:  # broadcast operands: per-channel, per-column, scalar-like
        shapes = [(1, ys[1]) + (1,) * nd, (ys[-1],), (1,), ys[1:]]
        z = b.input(shapes[b.rng.integers(0, len(shapes))])
    elif kind == 4:
        z = b.conv(x, ys[1], k=1, stride=(b.shape[x][2] + ys[2] - 1) // ys[2] if ys[2] < b.shape[x][2] else 1,
                   pad=0)
        if b.shape[z] != ys:
            z = b.input(ys)
    else:  # z from a Split of a doubled tensor, the other half read later
        big = b.input((ys[0], 2 * ys[1]) + ys[2:])
        z, other = b.split(big, 1, [ys[1], ys[1]])
        if b.rng.random() < 0.5:
            z, other = other, z
        b.output(b.unary("Sigmoid", other))
    b.maybe_reader(y)
    s = b.binary("Add", y, z) if b.rng.random() < 0.5 else b.binary("Add", z, y)
    if b.rng.random() < 0.3:
        b.output(b.unary("Relu", s))
        b.maybe_reader(s)
    else:
        b.output(s)
    if b.rng.random() < 0.3:  # z read again after the Add (an in-place write to z would show)
        b.output(b.binary("Mul", z, b.const(np.float32(2.0), "k")))


def p_conv_activation(b):
    x = _image(b)
    y = _conv_any(b, x)
    b.maybe_reader(y)
    a = _activation(b, y)
    b.output(a)
    b.maybe_reader(a)


def p_conv_bn(b):
    x = _image(b)
    y = _conv_any(b, x)
    c = b.shape[y][1]
    stats = [b.rand((c,), 1.0, "s"), b.rand((c,), 0.5, "bb"), b.rand((c,), 0.5, "m"),
             b.const((b.rng.random(c) + 0.5).astype(np.float32), "v")]
    if b.rng.random() < 0.2:  # scale not constant: a near miss
        stats[0] = b.input((c,))
    b.maybe_reader(y)
    bn = b.node("BatchNormalization", [y] + stats, b.shape[y], epsilon=float(b.rng.choice([1e-5, 1e-3])))
    b.output(bn)


def p_bias_add(b):
    if b.rng.random() < 0.5:
        x = _image(b)
        y = _conv_any(b, x)
        ys = b.shape[y]
        shapes = [(ys[1], 1, 1), (1, ys[1], 1, 1), (1, 1, 1, ys[3]), (ys[3],), (1, ys[1], ys[2], ys[3])]
    else:
        a = b.input((3, 5))
        y = b.node("Gemm", [a, b.rand((5, 4)), b.rand((4,))], (3, 4)) if b.rng.random() < 0.5 else \
            b.node("Gemm", [a, b.rand((4, 5))], (3, 4), transB=1, alpha=0.5)
        shapes = [(4,), (1, 4), (3, 4), (3, 1), ()]
    c = b.rand(shapes[b.rng.integers(0, len(shapes))], 1.0, "bias")
    if b.rng.random() < 0.15:  # the same constant read by another node too
        b.output(b.binary("Mul", c, c))
    b.maybe_reader(y)
    s = b.binary("Add", y, c) if b.rng.random() < 0.5 else b.binary("Add", c, y)
    b.output(s)


def p_conv_scale(b):
    """Mul(conv(x), s) (+ Add(c)) (+ activation): PaddlePaddle's learnable affine after a conv. s per channel or
    scalar folds into the weights; near misses: s per column, s of the output's full shape, s not constant."""
    x = _image(b)
    y = _conv_any(b, x)
    ys = b.shape[y]
    kind = b.rng.integers(0, 7)
    shapes = [(), (1,), (ys[1], 1, 1), (1, ys[1], 1, 1), (1, 1, 1, ys[3]), ys[1:]]
    s = b.input((ys[1], 1, 1)) if kind == 6 else b.rand(shapes[kind], 1.0, "scale")
    if b.rng.random() < 0.15 and kind != 6:  # the same constant read by another node too
        b.output(b.binary("Mul", s, s))
    b.maybe_reader(y)
    m = b.binary("Mul", y, s) if b.rng.random() < 0.5 else b.binary("Mul", s, y)
    if b.rng.random() < 0.6:
        m = b.binary("Add", m, b.rand(shapes[b.rng.integers(0, 4)], 0.5, "shift"))
    if b.rng.random() < 0.6:
        b.maybe_reader(m)
        m = _activation(b, m)
    b.output(m)


def p_affine_into_conv(b):
    """conv(a * y + b) (either part alone, either operand order): folds when the conv reads no padding; near
    misses: padding, a per column, a not constant, the affine's result read again."""
    x = _image(b)
    if b.rng.random() < 0.5:
        x = _activation(b, b.conv(x, b.shape[x][1], k=1))
    xs = b.shape[x]
    c = xs[1]
    shapes = [(), (1,), (c, 1, 1), (1, c, 1, 1), (1, 1, 1, xs[3]), xs[1:]]
    y = x
    if b.rng.random() < 0.8:
        kind = b.rng.integers(0, 7)
        a = b.input((c, 1, 1)) if kind == 6 else b.rand(shapes[kind], 1.0, "scale")
        y = b.binary("Mul", y, a) if b.rng.random() < 0.5 else b.binary("Mul", a, y)
        b.maybe_reader(y, 0.15)
    if y == x or b.rng.random() < 0.7:
        sh = b.rand(shapes[b.rng.integers(0, 5)], 0.5, "shift")
        y = b.binary("Add", y, sh) if b.rng.random() < 0.5 else b.binary("Add", sh, y)
        b.maybe_reader(y, 0.15)
    kind = b.rng.integers(0, 6)
    if kind == 0:
        out = b.conv(y, int(b.rng.choice([c, 2 * c])), k=1, bias=b.rng.random() < 0.7)
    elif kind == 1:
        out = b.conv(y, c, k=3, pad=0, stride=int(b.rng.choice([1, 2])))
    elif kind == 2 and c % 2 == 0:
        out = b.conv(y, c, k=1, group=2)
    elif kind == 3:
        out = b.conv(y, c, k=3, pad=0, group=c)  # depthwise, no padding
    elif kind == 4:
        out = b.conv(y, c, k=3, pad=0, dil=2)
    else:
        out = b.conv(y, c, k=3)  # padded: a near miss
    b.output(out)


def p_matmul_add(b):
    m, k, n = 3, 6, 4
    a_shape = [(m, k), (2, m, k), (k,)][b.rng.integers(0, 3)] if b.rng.random() < 0.4 else (m, k)
    a = b.input(a_shape)
    bw = b.rand((k, n)) if b.rng.random() < 0.85 else b.input((k, n))
    y = b.node("MatMul", [a, bw], a_shape[:-1] + (n,))
    shapes = [(n,), (1, n), (m, n), (m, 1), ()]
    c = b.rand(shapes[b.rng.integers(0, len(shapes))], 1.0, "bias") if b.rng.random() < 0.85 else b.input((n,))
    b.maybe_reader(y)
    s = b.binary("Add", y, c) if b.rng.random() < 0.5 else b.binary("Add", c, y)
    b.output(s)


def p_gelu(b):
    x = b.input((2, 3, 8), scale=3.0)
    if b.rng.random() < 0.4:  # BiasGelu: a bias Add before
        x = b.binary("Add", x, b.rand((8,)))
    other = b.input((2, 3, 8)) if b.rng.random() < 0.15 else x  # near miss: the final Mul reads another value
    half = 0.5 if b.rng.random() < 0.9 else 0.4  # near miss: a wrong constant
    if b.rng.random() < 0.6:  # erf form
        d = b.binary("Div", x, b.const(np.float32(math.sqrt(2.0))))
        e = b.unary("Erf", d)
    else:  # tanh form
        x3 = b.binary("Pow", x, b.const(np.float32(3.0)))
        inner = b.binary("Add", x, b.binary("Mul", x3, b.const(np.float32(0.044715))))
        e = b.unary("Tanh", b.binary("Mul", inner, b.const(np.float32(math.sqrt(2 / math.pi)))))
    b.maybe_reader(e)
    one = b.binary("Add", e, b.const(np.float32(1.0)))
    if b.rng.random() < 0.5:
        out = b.binary("Mul", b.binary("Mul", other, b.const(np.float32(half))), one)
    else:
        out = b.binary("Mul", b.binary("Mul", other, one), b.const(np.float32(half)))
    b.output(out)


def p_silu(b):
    x = b.input((2, 4, 6), scale=3.0) if b.rng.random() < 0.5 else b.alias(b.input((2, 4, 6), scale=3.0))
    if b.rng.random() < 0.7:
        g = b.unary("Sigmoid", x)
    else:
        g = b.unary("HardSigmoid", x, alpha=float(b.rng.choice([1 / 6, 0.2])), beta=0.5)
    b.maybe_reader(g)
    other = x if b.rng.random() < 0.85 else b.input((2, 4, 6))
    out = b.binary("Mul", other, g) if b.rng.random() < 0.5 else b.binary("Mul", g, other)
    b.output(out)


def p_transpose_reshape(b):
    x = b.input((2, 3, 4, 5))
    if b.rng.random() < 0.5:
        p1 = list(b.rng.permutation(4))
        t1 = b.node("Transpose", [x], tuple(b.shape[x][i] for i in p1), perm=p1)
        p2 = list(b.rng.permutation(4)) if b.rng.random() < 0.7 else list(np.argsort(p1))
        b.maybe_reader(t1)
        out = b.node("Transpose", [t1], tuple(b.shape[t1][i] for i in p2), perm=p2)
    else:
        r1 = b.reshape(x, (6, 20)) if b.rng.random() < 0.5 else b.node(
            "Reshape", [x, b.const(np.array([0, -1, 5], np.int64), "shape")], (2, 12, 5))
        b.maybe_reader(r1)
        out = b.reshape(r1, (2, 3, 20)) if b.rng.random() < 0.5 else b.reshape(r1, (2, 3, 4, 5))
    b.output(out)


def p_noops(b):
    x = b.input((2, 3, 4))
    kind = b.rng.integers(0, 5)
    if kind == 0:
        y = b.unary("Identity", b.unary("Identity", x))
    elif kind == 1:
        y = b.node("Dropout", [x], (2, 3, 4), n_out=1)
    elif kind == 2:
        y = b.node("Cast", [x], (2, 3, 4), to=TensorProto.FLOAT)
    elif kind == 3:
        y = b.reshape(x, (2, 3, 4))
    else:
        y = b.alias(x)
    b.maybe_reader(y, p=0.5)
    if b.rng.random() < 0.3:  # the no-op's output straight to the graph output, its input also one
        b.output(x if b.rng.random() < 0.5 else y)
    b.output(b.unary("Relu", y))


def p_constant_folding(b):
    x = b.input((2, 3, 4))
    c = b.rand((3, 4))
    kind = b.rng.integers(0, 3)
    if kind == 0:
        u = b.node("Unsqueeze", [c, b.const(np.array([0], np.int64), "axes")], (1, 3, 4))
    elif kind == 1:
        u = b.binary("Mul", b.unary("Exp", c), b.const(np.float32(0.5)))
    else:
        u = b.node("Squeeze", [b.node("Unsqueeze", [c, b.const(np.array([0], np.int64), "axes")], (1, 3, 4)),
                               b.const(np.array([0], np.int64), "axes")], (3, 4))
    b.maybe_reader(u)
    b.output(b.binary("Add", x, u))


def p_hardswish(b):
    """x * Clip(x + 3, 0, 6) / 6 (PaddlePaddle's and older PyTorch's hard-swish), at opsets before and after
    HardSwish existed (11 and 12: bounds as inputs; 10: as attributes), with near misses."""
    b.opset = int(b.rng.choice([10, 11, 12, 14, 17]))
    x = _image(b) if b.rng.random() < 0.5 else b.input((2, 5, 7), scale=4.0)
    if len(b.shape[x]) == 4 and b.rng.random() < 0.6:
        x = b.conv(x, b.shape[x][1], k=1)
    three = 3.0 if b.rng.random() < 0.9 else 2.5
    hi = 6.0 if b.rng.random() < 0.9 else 5.0
    a = b.binary("Add", x, b.const(np.float32(three))) if b.rng.random() < 0.5 else \
        b.binary("Add", b.const(np.float32(three)), x)
    if b.opset < 11:
        c = b.node("Clip", [a], b.shape[a], min=0.0, max=hi)
    else:
        lo = b.const(np.float32(0.0)) if b.rng.random() < 0.9 else b.input(())
        c = b.node("Clip", [a, lo, b.const(np.float32(hi))], b.shape[a])
    b.maybe_reader(a, p=0.15)
    b.maybe_reader(c, p=0.15)
    other = x if b.rng.random() < 0.9 else b.input(b.shape[x])

    def sixth(v):
        return b.binary("Div", v, b.const(np.float32(6.0))) if b.rng.random() < 0.5 else \
            b.binary("Mul", v, b.const(np.float32(1.0 / 6.0)))

    if b.rng.random() < 0.5:
        m = b.binary("Mul", other, c) if b.rng.random() < 0.5 else b.binary("Mul", c, other)
        b.maybe_reader(m, p=0.15)
        out = sixth(m)
    else:
        q = sixth(c)
        b.maybe_reader(q, p=0.15)
        out = b.binary("Mul", other, q) if b.rng.random() < 0.5 else b.binary("Mul", q, other)
    b.output(out)


def p_chain(b):
    """Several patterns in a row: a conv block with residual, activation, BN, and SiLU (a YOLO-style block)."""
    x = _image(b, c=4)
    y = b.conv(x, 8, k=1)
    y = b.binary("Mul", y, b.unary("Sigmoid", y))
    a, c = b.split(y, 1, [4, 4])
    h = b.conv(c, 4, k=3, group=4)
    if b.rng.random() < 0.5:  # the C2PSA shape: a depthwise conv's output plus a Reshape of another value
        h = b.binary("Add", b.reshape(b.reshape(c, (b.shape[c][0], -1)), b.shape[c]), h)
    r = b.conv(h, 4, k=1)
    s = b.binary("Add", c, r) if b.rng.random() < 0.5 else b.binary("Add", r, c)
    b.maybe_reader(s)
    cat = b.node("Concat", [a, s], b.shape[y], axis=1)
    out = b.conv(cat, 4, k=1)
    b.output(b.binary("Mul", out, b.unary("Sigmoid", out)))


def p_attention(b):
    """Exported multi-head attention (fuse_attention): packed QKV, heads, scale, additive mask, Softmax, context;
    near misses: a wrong-axis Softmax, scores read elsewhere, a rank-3 head reshape, a scale from an input."""
    bs, s, h, d = 2, 5, 2, 3
    c = h * d
    x = b.input((bs, s, c))
    qkv = b.binary("Add", b.node("MatMul", [x, b.rand((c, 3 * c), 0.5)], (bs, s, 3 * c)), b.rand((3 * c,), 0.1))
    q3, k3, v3 = b.split(qkv, 2, [c, c, c])
    near = b.rng.integers(0, 8)  # 0..3: one near miss, else the pattern
    heads = []
    for t in (q3, k3, v3):
        r = b.reshape(t, (bs, s, h, d)) if near != 2 else b.reshape(t, (bs, s * h, d))
        heads.append(r)
    if near == 2:
        q = b.node("Transpose", [heads[0]], (s * h, bs, d), perm=[1, 0, 2])
        k = b.node("Transpose", [heads[1]], (s * h, d, bs), perm=[1, 2, 0])
        v = b.node("Transpose", [heads[2]], (s * h, bs, d), perm=[1, 0, 2])
        sc = b.node("MatMul", [q, k], (s * h, bs, bs))
    else:
        q = b.node("Transpose", [heads[0]], (bs, h, s, d), perm=[0, 2, 1, 3])
        k = b.node("Transpose", [heads[1]], (bs, h, d, s), perm=[0, 2, 3, 1])
        v = b.node("Transpose", [heads[2]], (bs, h, s, d), perm=[0, 2, 1, 3])
        sc = b.node("MatMul", [q, k], (bs, h, s, s))
    scale = b.const(np.float32(math.sqrt(d))) if near != 3 else b.input(())
    sc = b.binary("Div", sc, scale)
    mask = b.const(np.where(b.rng.random((bs, 1, 1, s)) < 0.3, -10000.0, 0.0).astype(np.float32), "mask")
    if len(b.shape[sc]) == 4:
        sc = b.binary("Add", sc, mask)
    if near == 1:
        b.output(sc)
    p = b.node("Softmax", [sc], b.shape[sc], axis=2 if near == 0 else -1)
    ctx = b.node("MatMul", [p, v], None)
    if near == 2:
        b.output(ctx)
        return
    t = b.node("Transpose", [ctx], (bs, s, h, d), perm=[0, 2, 1, 3])
    b.output(b.reshape(t, (bs, s, c)))


def p_causal_attention(b):
    """Decoder attention with the causal masks exporters write (fuse_attention keeps an additive one as the fused
    node's bias; the attention core then skips keys whose bias puts them provably under the exp floor): GPT-2's
    Trilu(ConstantOfShape(Shape-derived [S, S], fill), k=1) plus a padding bias from a 0/1 mask input, the same as
    a constant triangle, or HF's Where(tril, scores, fill); fill -10000, -1e9 or -inf; near miss: fill -50 (the
    masked keys keep a share, which the skip bound must see). Padding is on the right, so every row keeps key 0:
    with all visible keys at -10000 both runtimes round the scores to float's 1e-3 steps there."""
    bs, s, h, d = int(b.rng.integers(1, 3)), int(b.rng.choice([5, 9, 70])), 2, int(b.rng.integers(3, 9))
    c = h * d
    x = b.input((bs, s, c))
    qkv = b.binary("Add", b.node("MatMul", [x, b.rand((c, 3 * c), 0.5)], (bs, s, 3 * c)), b.rand((3 * c,), 0.1))
    q3, k3, v3 = b.split(qkv, 2, [c, c, c])
    heads = [b.node("Transpose", [b.reshape(t, (bs, s, h, d))], (bs, h, s, d), perm=[0, 2, 1, 3]) for t in (q3, v3)]
    k = b.node("Transpose", [b.reshape(k3, (bs, s, h, d))], (bs, h, d, s), perm=[0, 2, 3, 1])
    sc = b.binary("Mul", b.node("MatMul", [heads[0], k], (bs, h, s, s)), b.const(np.float32(1 / math.sqrt(d))))
    form, near = int(b.rng.integers(0, 3)), b.rng.random() < 0.25
    fill = -50.0 if near else float(b.rng.choice([-10000.0, -1e9, -np.inf]))
    # padding bias (1 - m) * -10000 from a 0/1 mask input [bs, s]: the last `pad` keys of each row of the batch
    mname = b.name("attn_mask")
    b.inputs.append(helper.make_tensor_value_info(mname, TensorProto.FLOAT, [bs, s]))
    m = np.ones((bs, s), np.float32)
    for i in range(bs):
        m[i, s - int(b.rng.integers(0, s)):] = 0.0
    b.feeds[mname], b.shape[mname] = m, (bs, s)
    pad = b.binary("Mul", b.binary("Sub", b.const(np.float32(1.0)), mname), b.const(np.float32(-10000.0)))
    pad = b.reshape(pad, (bs, 1, 1, s))
    if form == 0:  # GPT-2: the [S, S] shape from the input's Shape, so nothing folds it
        sh = b.node("Shape", [x], (3,))
        n = b.node("Unsqueeze", [b.node("Gather", [sh, b.const(np.array(1, np.int64))], (), axis=0),
                                 b.const(np.array([0], np.int64), "axes")], (1,))
        full = b.node("ConstantOfShape", [b.node("Concat", [n, n], (2,), axis=0)], (s, s),
                      value=helper.make_tensor("value", TensorProto.FLOAT, [1], [fill]))
        tri = b.node("Trilu", [full, b.const(np.array(1, np.int64))], (s, s), upper=1)
        sc = b.binary("Add", sc, b.binary("Add", pad, tri))
    elif form == 1:  # the triangle as a constant
        tri = np.triu(np.full((s, s), fill, np.float32), 1)
        tri[np.tril_indices(s)] = 0.0
        sc = b.binary("Add", sc, b.binary("Add", pad, b.const(tri, "causal")))
    else:  # Where(tril, scores, fill), then the padding
        tril = b.const(np.tril(np.ones((1, 1, s, s), bool)), "tril")
        sc = b.node("Where", [tril, sc, b.const(np.float32(fill))], b.shape[sc])
        sc = b.binary("Add", sc, pad)
    p = b.node("Softmax", [sc], b.shape[sc], axis=-1)
    ctx = b.node("MatMul", [p, heads[1]], (bs, h, s, d))
    t = b.node("Transpose", [ctx], (bs, s, h, d), perm=[0, 2, 1, 3])
    b.output(b.reshape(t, (bs, s, c)))


PATTERNS = {
    "conv_add": p_conv_add, "conv_activation": p_conv_activation, "conv_bn": p_conv_bn, "bias_add": p_bias_add,
    "conv_scale": p_conv_scale, "affine_into_conv": p_affine_into_conv,
    "matmul_add": p_matmul_add, "gelu": p_gelu, "silu": p_silu, "transpose_reshape": p_transpose_reshape,
    "noops": p_noops, "constant_folding": p_constant_folding, "chain": p_chain, "hardswish": p_hardswish,
    "attention": p_attention, "causal_attention": p_causal_attention,
}


def make_case(seed, pattern=None):
    """(name, model, feeds) for case `seed`: a pattern, its variations, maybe inside an If."""
    rng = np.random.default_rng(seed)
    names = sorted(PATTERNS)
    pat = pattern or names[rng.integers(0, len(names))]
    b = Builder(rng)
    PATTERNS[pat](b)
    if rng.random() < 0.25 and b.opset == OPSET:  # a second pattern in the same graph: fusions that meet
        same_opset = [n for n in names if n != "hardswish"]  # hardswish picks its own opset
        PATTERNS[same_opset[rng.integers(0, len(same_opset))]](b)
    wrap = rng.random() < 0.15
    return f"{pat}#{seed}{' (in If)' if wrap else ''}", b.model(wrap_if=wrap), b.feeds


# ------------------------------------------------------------------------------------------------- running
def pass_names(oxrt_bin):
    """The optimizer's passes, in the order they run, as `oxrt optimize --list` or a verbose optimize names them."""
    p = subprocess.run([oxrt_bin, "optimize", "--list"], capture_output=True, text=True)
    names = []
    if p.returncode == 0:
        for line in p.stdout.splitlines():
            w = line.split()
            if w and all(ch.isalnum() or ch == "_" for ch in w[0]) and "_" in w[0]:
                names.append(w[0])
    if names:
        return names
    with tempfile.TemporaryDirectory() as d:  # older CLI: read them from a run on a tiny model
        b = Builder(np.random.default_rng(0))
        b.output(b.unary("Relu", b.input((2,))))
        src = os.path.join(d, "m.onnx")
        onnx.save(b.model(), src)
        p = subprocess.run([oxrt_bin, "optimize", src, os.path.join(d, "o.onnx")], capture_output=True, text=True)
        for line in p.stdout.splitlines():
            w = line.split()
            if len(w) > 2 and w[0] == "round" and w[2] not in names:
                names.append(w[2])
    return names


def _run_oxrt(data, feeds, level, disabled=()):
    import oxrt

    so = oxrt.SessionOptions()
    so.graph_optimization_level = level
    s = oxrt.InferenceSession(data, so, disabled_optimizers=list(disabled))
    return s.run(None, feeds)


def _run_ort(data, feeds):
    import onnxruntime

    so = onnxruntime.SessionOptions()
    so.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_DISABLE_ALL
    so.log_severity_level = 3
    return onnxruntime.InferenceSession(data, so, providers=["CPUExecutionProvider"]).run(None, feeds)


def _diff(a, b, by_range=False):
    """Largest error relative to the reference's magnitude (by_range: to the largest magnitude of that output, the
    scale of the terms a float sum's rounding grows with); integer, string and structural differences (shape,
    dtype, sequence length, map keys) are infinitely wrong."""
    if isinstance(b, dict):
        if not isinstance(a, dict) or a.keys() != b.keys():
            return math.inf
        return max([_diff(a[k], b[k], by_range) for k in b] or [0.0])
    if isinstance(b, (list, tuple)):
        if not isinstance(a, (list, tuple)) or len(a) != len(b):
            return math.inf
        return max([_diff(x, y, by_range) for x, y in zip(a, b)] or [0.0])
    x, y = np.asarray(a), np.asarray(b)
    if x.shape != y.shape or x.dtype != y.dtype:
        return math.inf
    if x.size == 0:
        return 0.0
    if x.dtype.kind not in "fc":
        return 0.0 if np.array_equal(x, y) else math.inf
    x64, y64 = x.astype(np.float64), y.astype(np.float64)
    if np.any(np.isnan(x64) != np.isnan(y64)):
        return math.inf
    if by_range:
        return float(np.nanmax(np.abs(x64 - y64)) / (1.0 + np.nanmax(np.abs(y64))))
    return float(np.nanmax(np.abs(x64 - y64) / (1.0 + np.abs(y64))))


TOL = 1e-4


def check_case(name, model, feeds, passes, reference="ort", by_range=False):
    """None when oxrt (optimized), oxrt (unoptimized) and ONNX Runtime agree; otherwise a description naming
    the pass whose removal makes the optimized run agree again. reference="oxrt" leaves ONNX Runtime out.
    by_range measures errors against each output's largest magnitude (deep models whose sums change order)."""
    import oxrt

    def cmp(a, b):
        return _diff(a, b, by_range)

    data = model.SerializeToString()
    ref = None
    if reference == "ort":
        try:
            ref = _run_ort(data, feeds)
        except Exception as e:
            return f"{name}: ONNX Runtime rejected the generated model: {e}"
    L = oxrt.GraphOptimizationLevel
    try:
        off = _run_oxrt(data, feeds, L.ORT_DISABLE_ALL)
    except Exception as e:
        return f"{name}: oxrt without optimization failed: {e}"
    if ref is not None and cmp(off, ref) > TOL:
        return f"{name}: oxrt without optimization differs from ORT by {cmp(off, ref):.3g} (a kernel, not a pass)"
    problems = []
    for level in (L.ORT_ENABLE_BASIC, L.ORT_ENABLE_ALL):
        try:
            on = _run_oxrt(data, feeds, level)
            err = cmp(on, off)
        except Exception as e:
            on, err = None, math.inf
            problems.append(f"{name}: level {level.name} failed: {e}")
        if err <= TOL:
            continue
        culprits = []
        for p in passes:
            try:
                if cmp(_run_oxrt(data, feeds, level, [p]), off) <= TOL:
                    culprits.append(p)
            except Exception:
                pass
        problems.append(f"{name}: level {level.name} differs by {err:.3g}; "
                        f"disabling {' or '.join(culprits) if culprits else 'no single pass'} fixes it")
        break
    problems += check_named(name, data, feeds, off)
    return "\n".join(problems) or None


def named_passes():
    """The passes oxrt.optimizer.optimize accepts by name (onnxoptimizer's names and oxrt's own); [] when this
    build has none."""
    try:
        import oxrt.optimizer

        return oxrt.optimizer.get_available_passes()
    except (ImportError, AttributeError):
        return []


def check_named(name, data, feeds, reference, k=3):
    """Three named passes drawn at random, and onnxoptimizer's default list, each applied alone through
    oxrt.optimizer.optimize: the rewritten model must give the unoptimized results (run with the session's own
    optimizer off, so only the named pass acts)."""
    import oxrt
    import oxrt.optimizer

    names = named_passes()
    if not names:
        return []
    rng = np.random.default_rng(abs(hash(name)) % (2**32))
    picks = [[p] for p in rng.choice(names, size=min(k, len(names)), replace=False)] + [None]
    problems = []
    for passes in picks:
        what = f"named pass {passes[0]}" if passes else "onnxoptimizer's default pass list"
        try:
            out = oxrt.optimizer.optimize(data, passes)
            got = _run_oxrt(out if isinstance(out, bytes) else out.SerializeToString(), feeds,
                            oxrt.GraphOptimizationLevel.ORT_DISABLE_ALL)
            err = _diff(got, reference)
        except Exception as e:
            problems.append(f"{name}: {what} failed: {e}")
            continue
        if err > TOL:
            problems.append(f"{name}: {what} changes the results by {err:.3g}")
    return problems


def run_net(oxrt_bin, cases, seed=0, save_dir=None, log=None):
    """Checks `cases` random cases; returns (checked, failures)."""
    passes = pass_names(oxrt_bin)
    failures = []
    for i in range(cases):
        name, model, feeds = make_case(seed * 1_000_003 + i)
        why = check_case(name, model, feeds, passes)
        if why:
            failures.append(why)
            if save_dir:
                os.makedirs(save_dir, exist_ok=True)
                onnx.save(model, os.path.join(save_dir, name.split()[0].replace("#", "_") + ".onnx"))
            if log:
                log(why)
    return cases, failures


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--oxrt", default=os.path.join(os.path.dirname(__file__), "..", "..", "build", "oxrt"))
    ap.add_argument("--cases", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--save", help="folder for the models of failing cases")
    a = ap.parse_args()
    n, fails = run_net(a.oxrt, a.cases, a.seed, a.save, log=lambda s: print("FAIL", s, flush=True))
    print(f"{n - len(fails)} passed, {len(fails)} failed")
    sys.exit(1 if fails else 0)


if __name__ == "__main__":
    main()
