"""The last six of onnxoptimizer's default passes (eliminate_if_with_const_cond, eliminate_slice_after_shape,
fuse_pad_into_pool, fuse_concat_into_reshape, fuse_qkv, fuse_consecutive_slices), tested like the others in
test_toolkit_passes.py: a model with the pattern, optimized by `oxrt optimize --passes NAME,eliminate_deadend`,
must load in ONNX Runtime with the original's outputs, and leave no more nodes + initializers than onnxoptimizer
(the same where both do the same work). Models where the rewrite would change the result (onnxoptimizer fuses
some of them anyway) must come out computing the same as before."""
import os

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from conftest import run_cli

ort = pytest.importorskip("onnxruntime")
onnxoptimizer = pytest.importorskip("onnxoptimizer")

F = TensorProto.FLOAT
N = helper.make_node
R = np.random.RandomState(11)


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


def branch(name, nodes, outputs, inits=()):
    return helper.make_graph(nodes, name, [], outputs, list(inits))


def if_model(cond_as_constant_node):
    then_g = branch("then", [N("Add", ["X", "tc"], ["t1"]), N("Relu", ["t1"], ["t_out"])], [vi("t_out", [2, 3])],
                    [init("tc", np.full(3, 0.5, np.float32))])
    else_g = branch("else", [N("Neg", ["X"], ["e_out"])], [vi("e_out", [2, 3])])
    nodes = [N("If", ["c"], ["Y"], then_branch=then_g, else_branch=else_g)]
    inits = []
    if cond_as_constant_node:
        nodes.insert(0, N("Constant", [], ["c"], value=helper.make_tensor("cv", TensorProto.BOOL, [], [False])))
    else:
        inits.append(init("c", np.array(True)))
    return model(nodes, [vi("X", [2, 3])], [vi("Y", [2, 3])], inits)


def nested_if_model():
    """The taken branch holds an If on a graph input that reads a branch value by name: outputs go through
    Identity so that the nested branch still finds it."""
    inner_then = branch("it", [N("Add", ["t1", "X"], ["it_out"])], [vi("it_out", [2, 3])])
    inner_else = branch("ie", [N("Neg", ["t1"], ["ie_out"])], [vi("ie_out", [2, 3])])
    then_g = branch("then", [N("Relu", ["X"], ["t1"]),
                             N("If", ["C2"], ["t2"], then_branch=inner_then, else_branch=inner_else)],
                    [vi("t2", [2, 3]), vi("t1", [2, 3])])
    else_g = branch("else", [N("Neg", ["X"], ["e1"]), N("Abs", ["X"], ["e2"])], [vi("e1", [2, 3]), vi("e2", [2, 3])])
    return model([N("If", ["c"], ["Y", "Z"], then_branch=then_g, else_branch=else_g)],
                 [vi("X", [2, 3]), vi("C2", [], TensorProto.BOOL)], [vi("Y", [2, 3]), vi("Z", [2, 3])],
                 [init("c", np.array(True))])


def slice_after_shape(dims, starts, ends, steps=None):
    ins = ["s", "st", "en"] + (["ax", "sp"] if steps is not None else [])
    inits = [init("st", np.array(starts, np.int64)), init("en", np.array(ends, np.int64))]
    if steps is not None:
        inits += [init("ax", np.array([0], np.int64)), init("sp", np.array(steps, np.int64))]
    return model([N("Shape", ["X"], ["s"]), N("Slice", ins, ["sl"]), N("ConstantOfShape", ["sl"], ["Y"])],
                 [vi("X", dims)], [vi("Y", ["a", "b"])], inits)


def pool_model(op, pre=None, pad_pads=(0, 0, 1, 1, 0, 0, 1, 1), **attrs):
    nodes = [N("Pad", ["P", "p"], ["a"]), N(op, ["a"], ["Y"], kernel_shape=[3, 3], **attrs)]
    if pre:
        nodes.insert(0, N(pre, ["X"], ["P"]))
    else:
        nodes[0].input[0] = "X"
    return model(nodes, [vi("X", [1, 2, 5, 5])], [vi("Y", ["n", "c", "h", "w"])], [init("p", np.array(pad_pads, np.int64))])


def reshape_concat_model(cast):
    parts = [N("Shape", ["X"], ["s"]), N("Gather", ["s", "i0"], ["d0"], axis=0), N("Unsqueeze", ["d0", "ax"], ["u0"])]
    if cast:
        nodes = parts + [N("Cast", ["u0"], ["u0f"], to=TensorProto.INT32),
                         N("Concat", ["u0f", "k32"], ["c"], axis=0), N("Cast", ["c"], ["c64"], to=TensorProto.INT64),
                         N("Reshape", ["X", "c64"], ["Y"])]
    else:
        nodes = parts + [N("Concat", ["u0", "k"], ["c"], axis=0), N("Reshape", ["X", "c"], ["Y"])]
    return model(nodes, [vi("X", ["N", 3, 4])], [vi("Y", ["a", "b"])],
                 [init("i0", np.array(0, np.int64)), init("ax", np.array([0], np.int64)),
                  init("k", np.array([12], np.int64)), init("k32", np.array([12], np.int32))])


def qkv_model(shapes_equal=True):
    """X comes from a node: onnxoptimizer 0.4.2's fuse_qkv asserts on a graph input."""
    wv = (8, 8) if shapes_equal else (8, 4)
    return model([N("LayerNormalization", ["X0", "ln"], ["X"], axis=-1),
                  N("MatMul", ["X", "Wq"], ["q"]), N("MatMul", ["X", "Wk"], ["k"]), N("MatMul", ["X", "Wv"], ["v"]),
                  N("Transpose", ["k"], ["kt"], perm=[0, 2, 1]), N("MatMul", ["q", "kt"], ["s"]),
                  N("Softmax", ["s"], ["p"], axis=-1), N("MatMul", ["p", "v"], ["Y"])],
                 [vi("X0", [2, 4, 8])], [vi("Y", [2, 4, wv[1]])],
                 [init("ln", np.ones(8, np.float32)), init("Wq", R.randn(8, 8).astype(np.float32)),
                  init("Wk", R.randn(8, 8).astype(np.float32)), init("Wv", R.randn(*wv).astype(np.float32))],
                 opset=17)


def slices_model(axes2, axes1, steps=(1,)):
    return model([N("Slice", ["X", "s2", "e2", "a2", "p2"], ["a"]), N("Slice", ["a", "s1", "e1", "a1", "p1"], ["Y"])],
                 [vi("X", [4, 6, 5])], [vi("Y", ["a", "b", "c"])],
                 [init("s2", np.array([1], np.int64)), init("e2", np.array([3], np.int64)),
                  init("a2", np.array(axes2, np.int64)), init("p2", np.array([1], np.int64)),
                  init("s1", np.array([5], np.int64)), init("e1", np.array([0], np.int64)),
                  init("a1", np.array(axes1, np.int64)), init("p1", np.array(steps, np.int64))])


# name -> (model, relation of oxrt's size to onnxoptimizer's: "==" or "<=")
CASES = {
    "eliminate_if_with_const_cond": (if_model(False), "=="),
    "eliminate_slice_after_shape": (slice_after_shape([2, 3, 4], [1], [3]), "=="),
    "fuse_pad_into_pool": (pool_model("AveragePool"), "=="),
    # onnxoptimizer 0.4.2's fuse_concat_into_reshape left every model tried alone (constant parts as initializers
    # or Constant nodes, with value_info for the unknown part, or none unknown): checked against ORT only
    "fuse_concat_into_reshape": (reshape_concat_model(False), "oxrt only"),
    # onnxoptimizer adds a Concat node of the three weights; oxrt writes the concatenated weight
    "fuse_qkv": (qkv_model(), "<="),
    # onnxoptimizer 0.4.2's fuse_consecutive_slices left every pair tried alone (initializers or Constant nodes,
    # opsets 11-18, int32/int64); its source adds four Concat nodes of starts/ends/axes/steps where oxrt writes
    # initializers. Checked against ORT only.
    "fuse_consecutive_slices": (slices_model([0], [1], [-2]), "oxrt only"),
}

# More shapes of each pattern that must be rewritten, checked against ORT (and onnxoptimizer's count where it
# does the same).
MORE = {
    "if_constant_node": ("eliminate_if_with_const_cond", if_model(True)),
    "if_nested": ("eliminate_if_with_const_cond", nested_if_model()),
    "slice_symbolic_other_dims": ("eliminate_slice_after_shape", slice_after_shape(["N", 3, 4], [-2], [100])),
    "slice_negative_step": ("eliminate_slice_after_shape", slice_after_shape([2, 3, 4, 5], [-1], [0], [-2])),
    "maxpool_after_relu": ("fuse_pad_into_pool", pool_model("MaxPool", pre="Relu")),
    "avgpool_own_pads_counted": ("fuse_pad_into_pool", pool_model("AveragePool", pad_pads=(0, 0, 1, 0, 0, 0, 0, 1),
                                                                  pads=[0, 1, 0, 1], count_include_pad=1)),
    "reshape_cast_concat": ("fuse_concat_into_reshape", reshape_concat_model(True)),
    "slices_negative_axes": ("fuse_consecutive_slices", slices_model([-3], [2])),
}

# Patterns left alone because rewriting them would change the result (or cannot be done): the outputs must still
# match, and the node named must still be there.
KEPT = {
    # a zero Pad wins a max over negative values, a MaxPool pad never does (onnxoptimizer fuses it anyway)
    "maxpool_negative_input": ("fuse_pad_into_pool", pool_model("MaxPool"), "Pad"),
    # the pool already pads without counting: count_include_pad=1 would change its own border windows
    "avgpool_uncounted_own_pads": ("fuse_pad_into_pool", pool_model("AveragePool", pads=[1, 1, 1, 1]), "Pad"),
    "slice_unknown_dim": ("eliminate_slice_after_shape", slice_after_shape(["N", 3, 4], [0], [2]), "Slice"),
    "if_input_cond": ("eliminate_if_with_const_cond",
                      model([N("If", ["C"], ["Y"], then_branch=branch("t", [N("Relu", ["X"], ["a"])], [vi("a", [2, 3])]),
                               else_branch=branch("e", [N("Neg", ["X"], ["b"])], [vi("b", [2, 3])]))],
                            [vi("X", [2, 3]), vi("C", [], TensorProto.BOOL)], [vi("Y", [2, 3])]), "If"),
    "qkv_unequal_weights": ("fuse_qkv", qkv_model(False), "Transpose"),
    "slices_same_axis": ("fuse_consecutive_slices", slices_model([1], [1]), "Slice"),
}


def feeds(m):
    rng = np.random.RandomState(7)
    out = {}
    inits = {i.name for i in m.graph.initializer}
    for i in m.graph.input:
        if i.name in inits:
            continue
        shape = [d.dim_value or 2 for d in i.type.tensor_type.shape.dim]
        if i.type.tensor_type.elem_type == TensorProto.BOOL:
            out[i.name] = np.array(rng.rand(*shape) > 0.5)
        else:
            out[i.name] = rng.randn(*shape).astype(np.float32)
    return out


def ort_run(m_or_path, f):
    src = m_or_path if isinstance(m_or_path, str) else m_or_path.SerializeToString()
    return ort.InferenceSession(src, providers=["CPUExecutionProvider"]).run(None, f)


def size(m):
    """Nodes, those of subgraphs included (onnxoptimizer's eliminate_deadend keeps unused initializers, so those
    are not compared)."""
    def count(g):
        n = 0
        for node in g.node:
            n += 1
            for a in node.attribute:
                n += count(a.g) if a.type == a.GRAPH else sum(count(x) for x in a.graphs)
        return n
    return count(m.graph)


def optimize(oxrt_bin, tmp_path, tag, m, name):
    src, dst = os.path.join(tmp_path, f"{tag}.onnx"), os.path.join(tmp_path, f"{tag}_opt.onnx")
    onnx.save(m, src)
    run_cli(oxrt_bin, "optimize", src, dst, "--passes", f"{name},eliminate_deadend")
    ours = onnx.load(dst)
    onnx.checker.check_model(ours)
    f = feeds(m)
    for w, g in zip(ort_run(m, f), ort_run(dst, f)):
        np.testing.assert_allclose(g, w, rtol=1e-4, atol=1e-5)
    assert [o.name for o in ours.graph.output] == [o.name for o in m.graph.output]
    return ours


@pytest.mark.parametrize("name", sorted(CASES))
def test_pass_against_onnxoptimizer(oxrt_bin, tmp_path, name):
    m, rel = CASES[name]
    ours = optimize(oxrt_bin, str(tmp_path), name, m, name)
    assert size(ours) < size(m), f"{name} removed no node"
    if rel == "oxrt only":
        return
    theirs = onnxoptimizer.optimize(m, [name, "eliminate_deadend"])
    ops = lambda x: sorted(n.op_type for n in x.graph.node)  # noqa: E731
    assert ops(theirs) != ops(m), f"onnxoptimizer's {name} does not apply to this model"
    if rel == "==":
        assert size(ours) == size(theirs), f"{name}: oxrt {size(ours)} nodes + initializers, onnxoptimizer {size(theirs)}"
    else:
        assert size(ours) <= size(theirs), f"{name}: oxrt {size(ours)} nodes + initializers, onnxoptimizer {size(theirs)}"


@pytest.mark.parametrize("case", sorted(MORE))
def test_pass_more_shapes(oxrt_bin, tmp_path, case):
    name, m = MORE[case]
    ours = optimize(oxrt_bin, str(tmp_path), case, m, name)
    assert size(ours) < size(m), f"{case}: {name} removed no node"


@pytest.mark.parametrize("case", sorted(KEPT))
def test_pass_leaves_unsafe_patterns(oxrt_bin, tmp_path, case):
    name, m, op = KEPT[case]
    ours = optimize(oxrt_bin, str(tmp_path), case, m, name)
    assert op in [n.op_type for n in ours.graph.node], f"{case}: {name} removed the {op}"


def test_onnxoptimizer_maxpool_fusion_differs():
    """Why fuse_pad_into_pool refuses MaxPool over possibly negative input: onnxoptimizer's fusion changes the
    result there (if it ever stops doing so, this test says the note in docs/optimizer.md is stale)."""
    m = KEPT["maxpool_negative_input"][1]
    theirs = onnxoptimizer.optimize(m, ["fuse_pad_into_pool"])
    f = {"X": -np.abs(np.random.RandomState(3).randn(1, 2, 5, 5)).astype(np.float32) - 1}
    assert not np.allclose(ort_run(theirs, f)[0], ort_run(m, f)[0])


def test_listed_and_in_default_list(oxrt_bin):
    listed = run_cli(oxrt_bin, "optimize", "--list").stdout
    for name in CASES:
        assert f"  {name} " in listed, name
    opt = pytest.importorskip("oxrt.optimizer")
    have = opt.get_fuse_and_elimination_passes()
    for name in CASES:
        assert name in have, name


def test_default_list_on_attention_block(oxrt_bin, tmp_path):
    """onnxoptimizer's whole default list (oxrt has all 39 names now) on a model with several of the patterns."""
    m = qkv_model()
    src, dst = os.path.join(tmp_path, "d.onnx"), os.path.join(tmp_path, "d_opt.onnx")
    onnx.save(m, src)
    passes = onnxoptimizer.get_fuse_and_elimination_passes()
    run_cli(oxrt_bin, "optimize", src, dst, "--passes", ",".join(passes))
    f = feeds(m)
    np.testing.assert_allclose(ort_run(dst, f)[0], ort_run(m, f)[0], rtol=1e-4, atol=1e-4)
    assert len(onnx.load(dst).graph.node) <= len(onnxoptimizer.optimize(m).graph.node)


def test_each_default_name_alone(oxrt_bin, tmp_path):
    """Every name of onnxoptimizer's default list has one `--list` line, oxrt.optimizer's default list is the same
    list, and each name alone, through the command and through oxrt.optimizer.optimize, gives a model that
    ONNX Runtime runs with the original's outputs."""
    ref = onnxoptimizer.get_fuse_and_elimination_passes()
    firsts = [line.split()[0] for line in run_cli(oxrt_bin, "optimize", "--list").stdout.splitlines()
              if line.startswith("  ")]
    assert [n for n in ref if firsts.count(n) != 1] == []
    opt = pytest.importorskip("oxrt.optimizer")
    assert opt.get_fuse_and_elimination_passes() == ref
    assert set(ref) <= set(opt.get_available_passes())
    m = qkv_model()
    src = os.path.join(tmp_path, "m.onnx")
    onnx.save(m, src)
    f = feeds(m)
    want = ort_run(m, f)[0]
    for name in ref:
        dst = os.path.join(tmp_path, f"{name}.onnx")
        run_cli(oxrt_bin, "optimize", src, dst, "--passes", name)
        np.testing.assert_allclose(ort_run(dst, f)[0], want, rtol=1e-4, atol=1e-5, err_msg=name)
        out = opt.optimize(m, [name])
        assert isinstance(out, onnx.ModelProto), name
        np.testing.assert_allclose(ort_run(out, f)[0], want, rtol=1e-4, atol=1e-5, err_msg=name)
