"""onnxoptimizer's named passes in `oxrt optimize --passes` and oxrt.optimizer: for each pass a small model with
its pattern (and the aliasing cases that trip rewrites: graph outputs inside the pattern, values with several
readers), checked against onnxoptimizer's own result (node count) and ONNX Runtime (same outputs before and
after)."""
import os

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from conftest import run_cli

ort = pytest.importorskip("onnxruntime")
onnxoptimizer = pytest.importorskip("onnxoptimizer")

F = TensorProto.FLOAT


def vi(name, shape, t=F):
    return helper.make_tensor_value_info(name, t, shape)


def init(name, arr):
    return numpy_helper.from_array(np.asarray(arr), name)


def model(nodes, inputs, outputs, inits=(), opset=13):
    g = helper.make_graph(nodes, "g", inputs, outputs, list(inits))
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])
    m.ir_version = 8
    onnx.checker.check_model(m)
    return m


N = helper.make_node
X23 = [vi("X", [2, 3])]
Y23 = [vi("Y", [2, 3])]

CASES = {
    "eliminate_identity": model([N("Identity", ["X"], ["a"]), N("Relu", ["a"], ["b"]), N("Identity", ["b"], ["Y"])],
                                X23, Y23),
    "eliminate_nop_transpose": model([N("Transpose", ["X"], ["a"], perm=[0, 1]), N("Relu", ["a"], ["Y"])], X23, Y23),
    "eliminate_nop_pad": model([N("Pad", ["X", "p"], ["a"]), N("Relu", ["a"], ["Y"])], X23, Y23,
                               [init("p", np.zeros(4, np.int64))]),
    "eliminate_nop_cast": model([N("Cast", ["X"], ["a"], to=F), N("Relu", ["a"], ["Y"])], X23, Y23),
    "eliminate_nop_dropout": model([N("Dropout", ["X"], ["a"]), N("Relu", ["a"], ["Y"])], X23, Y23),
    "eliminate_nop_flatten": model([N("Flatten", ["X"], ["a"], axis=1), N("Relu", ["a"], ["Y"])], X23, Y23),
    "eliminate_nop_concat": model([N("Concat", ["X"], ["a"], axis=0), N("Relu", ["a"], ["Y"])], X23, Y23),
    "eliminate_nop_split": model([N("Split", ["X"], ["a"], axis=0), N("Relu", ["a"], ["Y"])], X23, Y23),
    "eliminate_nop_expand": model([N("Expand", ["X", "s"], ["a"]), N("Relu", ["a"], ["Y"])], X23, Y23,
                                  [init("s", np.array([1, 3], np.int64))]),
    "eliminate_nop_reshape": model([N("Reshape", ["X", "s"], ["a"]), N("Relu", ["a"], ["Y"])], X23, Y23,
                                   [init("s", np.array([2, 3], np.int64))]),
    "eliminate_nop_with_unit": model([N("Add", ["X", "z"], ["a"]), N("Mul", ["o", "a"], ["b"]), N("Relu", ["b"], ["Y"])],
                                     X23, Y23, [init("z", np.zeros(3, np.float32)), init("o", np.ones(1, np.float32))]),
    "eliminate_consecutive_idempotent_ops": model([N("Relu", ["X"], ["a"]), N("Relu", ["a"], ["b"]),
                                                   N("Neg", ["b"], ["Y"])], X23, Y23),
    "eliminate_deadend": model([N("Relu", ["X"], ["Y"]), N("Neg", ["X"], ["dead"])], X23, Y23),
    "eliminate_unused_initializer": model([N("Relu", ["X"], ["Y"])], X23, Y23, [init("unused", np.ones(5, np.float32))]),
    "eliminate_duplicate_initializer": model(
        [N("Add", ["X", "c1"], ["a"]), N("Mul", ["a", "c2"], ["Y"])], X23, Y23,
        [init("c1", np.full(3, 2, np.float32)), init("c2", np.full(3, 2, np.float32))]),
    "eliminate_common_subexpression": model(
        [N("Relu", ["X"], ["a"]), N("Relu", ["X"], ["b"]), N("Add", ["a", "b"], ["Y"])], X23, Y23),
    "extract_constant_to_initializer": model(
        [N("Constant", [], ["c"], value=init("cv", np.full(3, 3, np.float32))), N("Add", ["X", "c"], ["Y"])], X23, Y23),
    "fuse_consecutive_transposes": model(
        [N("Transpose", ["X"], ["a"], perm=[1, 0]), N("Transpose", ["a"], ["Y"], perm=[1, 0])], X23, Y23),
    "fuse_consecutive_squeezes": model(
        [N("Squeeze", ["X", "a0"], ["a"]), N("Squeeze", ["a", "a1"], ["Y"])], [vi("X", [1, 2, 1, 3])], Y23,
        [init("a0", np.array([0], np.int64)), init("a1", np.array([1], np.int64))]),
    "fuse_consecutive_unsqueezes": model(
        [N("Unsqueeze", ["X", "a0"], ["a"]), N("Unsqueeze", ["a", "a1"], ["Y"])], X23, [vi("Y", [1, 2, 1, 3])],
        [init("a0", np.array([0], np.int64)), init("a1", np.array([2], np.int64))]),
    "fuse_consecutive_concats": model(
        [N("Concat", ["X", "X"], ["a"], axis=1), N("Concat", ["a", "X"], ["Y"], axis=1)], X23, [vi("Y", [2, 9])]),
    "fuse_consecutive_log_softmax": model([N("Softmax", ["X"], ["a"], axis=1), N("Log", ["a"], ["Y"])], X23, Y23),
    "eliminate_nop_monotone_argmax": model(
        [N("Softmax", ["X"], ["a"], axis=1), N("ArgMax", ["a"], ["Y"], axis=1)], X23, [vi("Y", [2, 1], TensorProto.INT64)]),
    "fuse_bn_into_conv": model(
        [N("Conv", ["X", "W", "B"], ["a"], pads=[1, 1, 1, 1]), N("BatchNormalization", ["a", "s", "b", "m", "v"], ["Y"])],
        [vi("X", [1, 3, 5, 5])], [vi("Y", [1, 4, 5, 5])],
        [init("W", np.random.RandomState(0).randn(4, 3, 3, 3).astype(np.float32)), init("B", np.ones(4, np.float32)),
         init("s", np.full(4, 1.5, np.float32)), init("b", np.full(4, 0.1, np.float32)),
         init("m", np.full(4, 0.2, np.float32)), init("v", np.full(4, 2.0, np.float32))]),
    "fuse_add_bias_into_conv": model(
        [N("Conv", ["X", "W"], ["a"]), N("Add", ["a", "B"], ["Y"])], [vi("X", [1, 3, 5, 5])], [vi("Y", [1, 4, 3, 3])],
        [init("W", np.random.RandomState(1).randn(4, 3, 3, 3).astype(np.float32)),
         init("B", np.arange(4, dtype=np.float32).reshape(1, 4, 1, 1))]),
    "fuse_pad_into_conv": model(
        [N("Pad", ["X", "p"], ["a"]), N("Conv", ["a", "W"], ["Y"], pads=[0, 1, 0, 1])], [vi("X", [1, 3, 5, 5])],
        [vi("Y", [1, 4, 5, 7])],
        [init("p", np.array([0, 0, 1, 1, 0, 0, 1, 1], np.int64)),
         init("W", np.random.RandomState(2).randn(4, 3, 3, 3).astype(np.float32))]),
    "fuse_matmul_add_bias_into_gemm": model(
        [N("MatMul", ["X", "W"], ["a"]), N("Add", ["a", "B"], ["Y"])], X23, [vi("Y", [2, 4])],
        [init("W", np.random.RandomState(3).randn(3, 4).astype(np.float32)), init("B", np.ones(4, np.float32))]),
    "fuse_transpose_into_gemm": model(
        [N("Transpose", ["X"], ["a"], perm=[1, 0]), N("Gemm", ["a", "W"], ["Y"])], X23, [vi("Y", [3, 4])],
        [init("W", np.random.RandomState(4).randn(2, 4).astype(np.float32))]),
    "eliminate_shape_op": model(
        [N("Relu", ["X"], ["r"]), N("Shape", ["X"], ["s"]), N("Reshape", ["r", "s"], ["Y"])], X23, Y23),
    "eliminate_shape_gather": model(
        [N("Shape", ["X"], ["s"]), N("Gather", ["s", "i"], ["g"]), N("Reshape", ["X", "g"], ["Y"])],
        [vi("X", [2, 3])], [vi("Y", [3, 2])], [init("i", np.array([1, 0], np.int64))]),
    "fuse_consecutive_reduce_unsqueeze": model(
        [N("ReduceSum", ["X", "ax"], ["r"], keepdims=0), N("Unsqueeze", ["r", "ax"], ["Y"])], X23, [vi("Y", [2, 1])],
        [init("ax", np.array([1], np.int64))]),
    "rewrite_where": model(
        [N("Not", ["C"], ["n"]), N("Where", ["n", "X", "Z"], ["Y"])],
        [vi("C", [2, 3], TensorProto.BOOL), vi("X", [2, 3]), vi("Z", [2, 3])], Y23),
}

# Aliasing: the pattern's middle value is also a graph output or has a second reader; both runtimes must keep it.
ALIASING = {
    "eliminate_identity": model([N("Identity", ["X"], ["Y"])], X23, Y23),  # input straight to output: stays
    "fuse_consecutive_transposes": model(
        [N("Transpose", ["X"], ["a"], perm=[1, 0]), N("Transpose", ["a"], ["Y"], perm=[1, 0]), N("Neg", ["a"], ["Z"])],
        X23, [vi("Y", [2, 3]), vi("Z", [3, 2])]),
    "fuse_consecutive_squeezes": model(
        [N("Squeeze", ["X", "a0"], ["a"]), N("Squeeze", ["a", "a1"], ["Y"])], [vi("X", [1, 2, 1, 3])],
        [vi("Y", [2, 3]), vi("a", [2, 1, 3])],
        [init("a0", np.array([0], np.int64)), init("a1", np.array([1], np.int64))]),
    "fuse_consecutive_log_softmax": model(
        [N("Softmax", ["X"], ["a"], axis=1), N("Log", ["a"], ["Y"]), N("Neg", ["a"], ["Z"])], X23, [vi("Y", [2, 3]),
                                                                                                    vi("Z", [2, 3])]),
    "eliminate_common_subexpression": model(
        [N("Relu", ["X"], ["a"]), N("Relu", ["X"], ["Y"]), N("Add", ["a", "Y"], ["Z"])], X23, [vi("Y", [2, 3]),
                                                                                            vi("Z", [2, 3])]),
    # axes written -1 and 1: the same axis once normalised (onnxoptimizer compares them as written)
    "fuse_consecutive_reduce_unsqueeze": model(
        [N("ReduceSum", ["X", "ax"], ["r"], keepdims=0), N("Unsqueeze", ["r", "ax2"], ["Y"])], X23, [vi("Y", [2, 1])],
        [init("ax", np.array([-1], np.int64)), init("ax2", np.array([1], np.int64))]),
    "fuse_pad_into_conv": model(
        [N("Pad", ["X", "p"], ["a"]), N("Conv", ["a", "W"], ["Y"]), N("Neg", ["a"], ["Z"])], [vi("X", [1, 3, 5, 5])],
        [vi("Y", [1, 4, 5, 5]), vi("Z", [1, 3, 7, 7])],
        [init("p", np.array([0, 0, 1, 1, 0, 0, 1, 1], np.int64)),
         init("W", np.random.RandomState(2).randn(4, 3, 3, 3).astype(np.float32))]),
}


def feeds(m):
    rng = np.random.RandomState(7)
    out = {}
    for i in m.graph.input:
        shape = [d.dim_value for d in i.type.tensor_type.shape.dim]
        if i.type.tensor_type.elem_type == TensorProto.BOOL:
            out[i.name] = rng.rand(*shape) > 0.5
        else:
            out[i.name] = rng.randn(*shape).astype(np.float32)
    return out


def ort_run(m_or_path, f):
    src = m_or_path if isinstance(m_or_path, str) else m_or_path.SerializeToString()
    s = ort.InferenceSession(src, providers=["CPUExecutionProvider"])
    return s.run(None, f)


def check(oxrt_bin, tmp_path, name, m, tag):
    src = os.path.join(tmp_path, f"{tag}.onnx")
    dst = os.path.join(tmp_path, f"{tag}_opt.onnx")
    onnx.save(m, src)
    run_cli(oxrt_bin, "optimize", src, dst, "--passes", name)
    ours = onnx.load(dst)
    # onnxoptimizer leaves some replaced nodes for eliminate_deadend to remove; oxrt's passes remove them
    theirs = onnxoptimizer.optimize(m, [name, "eliminate_deadend"])
    f = feeds(m)
    want = ort_run(m, f)
    got = ort_run(dst, f)  # loads in ONNX Runtime and computes the same
    for w, g in zip(want, got):
        np.testing.assert_allclose(g, w, rtol=1e-4, atol=1e-5)
    assert [o.name for o in ours.graph.output] == [o.name for o in m.graph.output]

    def size(x):  # nodes, plus initializers for the passes that change only those
        return len(x.graph.node) + (len(x.graph.initializer) if "initializer" in name else 0)
    changed = len(ours.graph.node) < len(m.graph.node) or len(ours.graph.initializer) < len(m.graph.initializer)
    return size(ours), size(theirs), size(m) if changed else -1


# Passes where oxrt does more than onnxoptimizer 0.4 on these models: Dropout is an identity in inference whatever
# its ratio (onnxoptimizer drops only ratio 0); the conv fusions fold the new weights into initializers where
# onnxoptimizer leaves Unsqueeze/arithmetic nodes for a later constant folding; onnxoptimizer 0.4 leaves this
# Gather(Shape(x)) of a statically shaped input alone.
DOES_MORE = {"eliminate_nop_dropout", "fuse_add_bias_into_conv", "fuse_bn_into_conv", "eliminate_shape_gather"}


@pytest.mark.parametrize("name", sorted(CASES))
def test_named_pass_matches_onnxoptimizer(oxrt_bin, tmp_path, name):
    ours, theirs, before = check(oxrt_bin, str(tmp_path), name, CASES[name], name)
    assert before >= 0, f"{name} removed no node and no initializer"
    if name in DOES_MORE:
        assert ours <= theirs, f"{name}: oxrt leaves {ours} nodes + initializers, onnxoptimizer {theirs}"
    else:
        assert ours == theirs, f"{name}: oxrt leaves {ours} nodes + initializers, onnxoptimizer {theirs}"


@pytest.mark.parametrize("name", sorted(ALIASING))
def test_named_pass_aliasing(oxrt_bin, tmp_path, name):
    check(oxrt_bin, str(tmp_path), name, ALIASING[name], name + "_alias")


def test_unknown_pass_is_an_error(oxrt_bin, tmp_path):
    src = os.path.join(tmp_path, "m.onnx")
    onnx.save(CASES["eliminate_identity"], src)
    p = run_cli(oxrt_bin, "optimize", src, os.path.join(tmp_path, "o.onnx"), "--passes", "eliminate_idenity",
                check=False)
    assert p.returncode != 0 and "eliminate_idenity" in p.stderr


def test_list_names_every_pass(oxrt_bin):
    out = run_cli(oxrt_bin, "optimize", "--list").stdout
    for name in CASES:
        assert f"  {name} " in out, name


def test_default_list_chain(oxrt_bin, tmp_path):
    """All of onnxoptimizer's default passes that oxrt has, in its order, on a model with several patterns."""
    m = model([N("Identity", ["X"], ["i"]), N("Transpose", ["i"], ["t1"], perm=[1, 0]),
               N("Transpose", ["t1"], ["t2"], perm=[1, 0]), N("Relu", ["t2"], ["r1"]), N("Relu", ["t2"], ["r2"]),
               N("Add", ["r1", "r2"], ["a"]), N("MatMul", ["a", "W"], ["mm"]), N("Add", ["mm", "B"], ["Y"])],
              X23, [vi("Y", [2, 4])],
              [init("W", np.random.RandomState(5).randn(3, 4).astype(np.float32)), init("B", np.ones(4, np.float32))])
    src, dst = os.path.join(tmp_path, "c.onnx"), os.path.join(tmp_path, "c_opt.onnx")
    onnx.save(m, src)
    have = set(onnxoptimizer.get_fuse_and_elimination_passes())
    listed = run_cli(oxrt_bin, "optimize", "--list").stdout
    passes = [p for p in onnxoptimizer.get_fuse_and_elimination_passes() if f"  {p} " in listed]
    assert len(passes) >= 25 and set(passes) <= have
    run_cli(oxrt_bin, "optimize", src, dst, "--passes", ",".join(passes))
    theirs = onnxoptimizer.optimize(m)
    f = feeds(m)
    np.testing.assert_allclose(ort_run(dst, f)[0], ort_run(m, f)[0], rtol=1e-4, atol=1e-5)
    assert len(onnx.load(dst).graph.node) <= len(theirs.graph.node)


def test_python_optimizer_api():
    opt = pytest.importorskip("oxrt.optimizer")
    m = CASES["eliminate_identity"]
    out = opt.optimize(m, ["eliminate_identity"])
    assert isinstance(out, onnx.ModelProto)
    assert len(out.graph.node) == len(onnxoptimizer.optimize(m, ["eliminate_identity"]).graph.node)
    raw = opt.optimize(m.SerializeToString(), ["eliminate_identity"])
    assert isinstance(raw, bytes) and len(onnx.load_from_string(raw).graph.node) == 1
    assert "fuse_bn_into_conv" in opt.get_available_passes()
    with pytest.raises(ValueError):
        opt.optimize(m, ["no_such_pass"])
    default = opt.optimize(m)  # passes=None: onnxoptimizer's default list
    assert len(default.graph.node) == 1


def test_external_data_in_and_out(oxrt_bin, tmp_path):
    """A model whose weights live in an external file, optimized into one that writes them externally again."""
    rng = np.random.RandomState(9)
    m = model([N("Identity", ["X"], ["i"]), N("MatMul", ["i", "W"], ["mm"]), N("Add", ["mm", "B"], ["Y"])], X23,
              [vi("Y", [2, 64])], [init("W", rng.randn(3, 64).astype(np.float32)), init("B", np.ones(64, np.float32))])
    src = str(tmp_path / "ext.onnx")
    onnx.save(m, src, save_as_external_data=True, all_tensors_to_one_file=True, location="ext.bin", size_threshold=0)
    dst = str(tmp_path / "ext_opt.onnx")
    run_cli(oxrt_bin, "optimize", src, dst, "--passes", "eliminate_identity,fuse_matmul_add_bias_into_gemm",
            "--external-data", "256")
    assert os.path.getsize(dst + ".data") >= 3 * 64 * 4
    out = onnx.load(dst, load_external_data=False)
    assert [n.op_type for n in out.graph.node] == ["Gemm"]
    assert any(t.data_location == onnx.TensorProto.EXTERNAL for t in out.graph.initializer)
    f = feeds(m)
    np.testing.assert_allclose(ort_run(dst, f)[0], ort_run(src, f)[0], rtol=1e-5, atol=1e-5)
    d = str(tmp_path / "dump")
    run_cli(oxrt_bin, "run", dst, "--dump-all", d)
    assert "match" in run_cli(oxrt_bin, "diff", src, d).stdout
