"""`oxrt check` and oxrt.checker against onnx.checker.check_model(full_check=True).

The verdict (valid or not) must equal onnx's on every model of both conformance suites and on a set of broken
models built here; messages must name what was wrong.
"""
import glob
import os
import subprocess

import pytest

onnx = pytest.importorskip("onnx")
from onnx import TensorProto as T  # noqa: E402
from onnx import helper as h  # noqa: E402

SUITES = ["/usr/include/onnx/backend/test/data", "/work/shared/onnx-tests"]
if not os.path.isdir(SUITES[1]):
    SUITES[1] = os.path.join(os.path.dirname(__file__), "..", "..", "..", "shared", "onnx-tests")
# onnx fails these only because its own function-body expansion of MeanVarianceNormalization-13 builds a Constant
# with an attribute the Constant schema it checks against lacks; the models themselves are valid.
KNOWN_ONNX_QUIRKS = {"test_mvn"}


def onnx_verdict(path_or_model):
    try:
        onnx.checker.check_model(path_or_model, full_check=True)
        return None
    except Exception as e:  # onnx raises ValidationError or InferenceError
        return str(e)


def oxrt_check(oxrt_bin, paths, full=True):
    p = subprocess.run([oxrt_bin, "check", "--quiet"] + (["--full"] if full else []) + list(paths),
                       capture_output=True, text=True, timeout=600)
    bad = {}
    for line in p.stdout.splitlines():
        if ": invalid: " in line:
            a, b = line.split(": invalid: ", 1)
            bad[a] = b
    return bad


def conformance_models():
    out = []
    for s in SUITES:
        out += sorted(glob.glob(os.path.join(s, "*", "*", "model.onnx")))
    return out


def test_conformance_verdicts(oxrt_bin):
    paths = conformance_models()
    assert len(paths) > 2000, "conformance suites not found"
    bad = oxrt_check(oxrt_bin, paths)
    agree, disagree = 0, []
    for p in paths:
        ref = onnx_verdict(p)
        if (ref is None) == (p not in bad):
            agree += 1
        elif os.path.basename(os.path.dirname(p)) not in KNOWN_ONNX_QUIRKS:
            disagree.append((p, bad.get(p), ref))
    print(f"check --full verdicts: {agree} of {len(paths)} agree with onnx.checker")
    assert not disagree, "\n".join(f"{p}: oxrt={o!r} onnx={r!r}" for p, o, r in disagree[:20])


X = h.make_tensor_value_info("x", T.FLOAT, [2])
Y = h.make_tensor_value_info("y", T.FLOAT, [2])
C = h.make_tensor_value_info("c", T.BOOL, [])


def mk(nodes, ins=(X,), outs=(Y,), inits=(), vi=(), opset=17, ir=8, name="g", functions=()):
    g = h.make_graph(list(nodes), name, list(ins), list(outs), list(inits), value_info=list(vi))
    m = h.make_model(g, opset_imports=[h.make_opsetid("", opset)] if opset else [], functions=list(functions))
    m.ir_version = ir
    return m


def relu(i="x", o="y", **kw):
    return h.make_node("Relu", [i], [o], **kw)


def attr(name, value, **fields):
    a = h.make_attribute(name, value)
    for k, v in fields.items():
        setattr(a, k, v)
    return a


def node_with(op, ins, outs, *attrs):
    n = h.make_node(op, ins, outs)
    n.attribute.extend(attrs)
    return n


def ext_tensor(location):
    t = h.make_tensor("w", T.FLOAT, [2], [1, 2])
    t.ClearField("float_data")
    t.data_location = T.EXTERNAL
    e = t.external_data.add()
    e.key, e.value = "location", location
    return t


def raw_short():
    t = h.make_tensor("w", T.FLOAT, [2], [1, 2])
    t.ClearField("float_data")
    t.raw_data = b"\0" * 4
    return t


def two_fields():
    t = h.make_tensor("w", T.FLOAT, [2], [1, 2])
    t.raw_data = b"\0" * 8
    return t


def undef_tensor():
    t = h.make_tensor("w", T.FLOAT, [2], [1, 2])
    t.data_type = 0
    return t


def branch(nodes, out, name):
    return h.make_graph(nodes, name, [], [h.make_tensor_value_info(out, T.FLOAT, [2])])


def if_model(then_nodes, then_out, else_nodes=None, else_out="b"):
    else_nodes = else_nodes or [relu("x", "b")]
    n = h.make_node("If", ["c"], ["y"], then_branch=branch(then_nodes, then_out, "t"),
                    else_branch=branch(else_nodes, else_out, "e"))
    return mk([n], ins=[X, C])


W = h.make_tensor("w", T.FLOAT, [2], [1, 2])
ADD_W = h.make_node("Add", ["x", "w"], ["y"])
fn = h.make_function("local", "MyRelu", ["a"], ["b"], [h.make_node("Relu", ["a"], ["b"])], [h.make_opsetid("", 17)])

BROKEN = {
    "valid": mk([relu()]),
    "valid_function": mk([h.make_node("MyRelu", ["x"], ["y"], domain="local")], functions=[fn]),
    "valid_outer_scope": if_model([relu("x", "a")], "a"),
    "output_not_produced": mk([relu("x", "z")]),
    "input_without_shape": mk([relu()], ins=[h.make_tensor_value_info("x", T.FLOAT, None)]),
    "empty_graph_name": mk([relu()], name=""),
    "ir3_initializer_not_input": mk([ADD_W], inits=[W], ir=3),
    "custom_domain_not_imported": mk([h.make_node("Foo", ["x"], ["y"], domain="com.x")]),
    "attribute_wrong_type": mk([h.make_node("LeakyRelu", ["x"], ["y"], alpha=2)]),
    "attribute_two_values": mk([node_with("LeakyRelu", ["x"], ["y"], attr("alpha", 0.5, i=3))]),
    "attribute_type_unset": mk([node_with("LeakyRelu", ["x"], ["y"], attr("alpha", 0.5, type=0))]),
    "attribute_twice": mk([node_with("LeakyRelu", ["x"], ["y"], attr("alpha", 0.1), attr("alpha", 0.2))]),
    "no_ir_version": mk([relu()], ir=0),
    "ir_version_too_new": mk([relu()], ir=99),
    "no_opset_import": mk([relu()], opset=None),
    "unknown_op": mk([h.make_node("Relux", ["x"], ["y"])]),
    "unknown_attribute": mk([relu(foo=1)]),
    "missing_required_attribute": mk([h.make_node("Cast", ["x"], ["y"])]),
    "too_many_inputs": mk([h.make_node("Relu", ["x", "x"], ["y"])]),
    "empty_required_input": mk([h.make_node("Add", ["x", ""], ["y"])]),
    "empty_optional_input": mk([h.make_node("Clip", ["x", "", ""], ["y"])], opset=13),
    "deprecated_op": mk([h.make_node("Upsample", ["x", "s"], ["y"])], ins=[X, h.make_tensor_value_info("s", T.FLOAT, [1])],
                        opset=10),
    "node_without_io": mk([h.make_node("Relu", [], []), relu()]),
    "output_shape_contradiction": mk([relu()], outs=[h.make_tensor_value_info("y", T.FLOAT, [3])]),
    "output_type_contradiction": mk([relu()], outs=[h.make_tensor_value_info("y", T.INT64, [2])]),
    "input_type_not_allowed": mk([relu()], ins=[h.make_tensor_value_info("x", T.STRING, [2])],
                                 outs=[h.make_tensor_value_info("y", T.STRING, [2])]),
    "type_variable_two_types": mk([h.make_node("Add", ["x", "w"], ["y"])],
                                  ins=[X, h.make_tensor_value_info("w", T.INT64, [2])]),
    "broadcast_contradiction": mk([h.make_node("Add", ["x", "w"], ["y"])],
                                  ins=[X, h.make_tensor_value_info("w", T.FLOAT, [3])]),
    "matmul_inner_mismatch": mk([h.make_node("MatMul", ["a", "b"], ["y"])],
                                ins=[h.make_tensor_value_info("a", T.FLOAT, [2, 3]),
                                     h.make_tensor_value_info("b", T.FLOAT, [4, 2])],
                                outs=[h.make_tensor_value_info("y", T.FLOAT, [2, 2])]),
    "duplicate_input": mk([relu()], ins=[X, X]),
    "duplicate_output_name": mk([relu(), relu()]),
    "node_writes_input": mk([relu("x", "x")], outs=[X]),
    "not_topological": mk([relu("t", "y"), relu("x", "t")]),
    "dangling_input": mk([h.make_node("Add", ["x", "q"], ["y"])]),
    "duplicate_initializer": mk([ADD_W], inits=[W, W]),
    "initializer_vs_input_shape": mk([ADD_W], ins=[X, h.make_tensor_value_info("w", T.FLOAT, [3])], inits=[W]),
    "tensor_two_data_fields": mk([ADD_W], inits=[two_fields()]),
    "tensor_undefined_type": mk([ADD_W], inits=[undef_tensor()]),
    "tensor_raw_data_short": mk([ADD_W], inits=[raw_short()]),
    "external_data_dotdot": mk([ADD_W], inits=[ext_tensor("../x.bin")]),
    "external_data_absolute": mk([ADD_W], inits=[ext_tensor("/etc/passwd")]),
    "external_data_missing_file": mk([ADD_W], inits=[ext_tensor("nofile.bin")]),
    "ml_domain_not_imported": mk([h.make_node("Normalizer", ["x"], ["y"], domain="ai.onnx.ml")]),
    "output_empty_name": mk([relu()], outs=[Y, h.make_tensor_value_info("", T.FLOAT, [2])]),
    "output_without_type": mk([relu()], outs=[h.make_value_info("y", onnx.TypeProto())]),
    "subgraph_dangling": if_model([relu("q", "a")], "a"),
    "subgraph_output_not_produced": if_model([relu("x", "a")], "zz"),
    "subgraph_redefines_outer": if_model([relu("x", "x")], "x"),
    "constant_type_not_allowed": mk([h.make_node("Constant", [], ["y"], value=h.make_tensor("v", T.INT64, [2], [1, 2]))],
                                    ins=[], outs=[h.make_tensor_value_info("y", T.INT64, [2])], opset=8, ir=3),
}


def fn_model(*nodes, opsets=(("", 17),)):
    f = h.make_function("local", "F", ["a"], ["b"], list(nodes), [h.make_opsetid(d, v) for d, v in opsets])
    m = mk([h.make_node("F", ["x"], ["y"], domain="local")], functions=[f])
    m.opset_import.append(h.make_opsetid("local", 1))
    return m


BROKEN.update({
    "function_valid_output_unused": fn_model(h.make_node("Relu", ["a"], ["c"])),
    "function_dangling": fn_model(h.make_node("Relu", ["q"], ["b"])),
    "function_unknown_op": fn_model(h.make_node("Reluxx", ["a"], ["b"])),
    "function_unknown_attribute": fn_model(h.make_node("Relu", ["a"], ["b"], foo=1)),
    "function_not_ssa": fn_model(h.make_node("Relu", ["a"], ["b"]), h.make_node("Relu", ["a"], ["b"])),
    "function_no_opset": fn_model(h.make_node("Relu", ["a"], ["b"]), opsets=()),
})


@pytest.fixture(scope="module")
def broken_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("broken")
    for name, m in BROKEN.items():
        with open(d / f"{name}.onnx", "wb") as f:
            f.write(m.SerializeToString())
    return d


def test_broken_models_same_verdict(oxrt_bin, broken_dir):
    paths = [str(broken_dir / f"{n}.onnx") for n in BROKEN]
    bad = oxrt_check(oxrt_bin, paths)
    wrong = []
    for name, p in zip(BROKEN, paths):
        ref = onnx_verdict(p)
        if (ref is None) != (p not in bad):
            wrong.append(f"{name}: oxrt={bad.get(p)!r} onnx={ref!r}")
    n_invalid = sum(p in bad for p in paths)
    print(f"broken models: {len(paths) - len(wrong)} of {len(paths)} verdicts agree ({n_invalid} invalid)")
    assert not wrong, "\n".join(wrong)
    assert n_invalid >= 45


@pytest.mark.parametrize("name,words", [
    ("attribute_wrong_type", ["LeakyRelu", "alpha", "FLOAT", "INT"]),
    ("missing_required_attribute", ["Cast", "'to'", "missing"]),
    ("not_topological", ["node #0", "'t'", "topologically"]),
    ("too_many_inputs", ["Relu", "2 inputs", "1 to 1"]),
    ("output_shape_contradiction", ["Relu", "'y'", "dimension 0", "2", "3"]),
    ("input_type_not_allowed", ["Relu", "string", "type constraint"]),
    ("external_data_dotdot", ["'w'", "../x.bin", "outside"]),
    ("function_dangling", ["function 'F'", "'q'", "topologically"]),
])
def test_messages_name_what_and_where(oxrt_bin, broken_dir, name, words):
    p = str(broken_dir / f"{name}.onnx")
    msg = oxrt_check(oxrt_bin, [p])[p]
    for w in words:
        assert w in msg, f"{name}: {w!r} not in {msg!r}"


def test_structural_only_without_full(oxrt_bin, broken_dir):
    # a shape contradiction is found only with --full, as onnx's full_check=False passes it
    p = str(broken_dir / "output_type_contradiction.onnx")
    assert p not in oxrt_check(oxrt_bin, [p], full=False)
    onnx.checker.check_model(p, full_check=False)
    assert p in oxrt_check(oxrt_bin, [p], full=True)


def test_python_checker(broken_dir):
    checker = pytest.importorskip("oxrt.checker")
    good = str(broken_dir / "valid.onnx")
    checker.check_model(good, full_check=True)
    checker.check_model(onnx.load(good))
    with open(good, "rb") as f:
        checker.check_model(f.read())
    with pytest.raises(checker.ValidationError, match="topologically"):
        checker.check_model(onnx.load(str(broken_dir / "not_topological.onnx")))
    with pytest.raises(checker.ValidationError, match="dimension 0"):
        checker.check_model(str(broken_dir / "output_shape_contradiction.onnx"), full_check=True)
    checker.check_model(str(broken_dir / "output_shape_contradiction.onnx"), full_check=False)
    with pytest.raises(onnx.checker.ValidationError):  # onnx's own exception type catches ours
        checker.check_model(str(broken_dir / "duplicate_input.onnx"))


def sparse(values, indices, dims, vshape=None, itype=T.INT64, ishape=None):
    v = h.make_tensor("w", T.FLOAT, vshape or [len(values)], values)
    i = h.make_tensor("w_idx", itype, ishape or [len(indices)], indices)
    return h.make_sparse_tensor(v, i, dims)


def sparse_init(s, nodes=(ADD_W,)):
    m = mk(list(nodes))
    m.graph.sparse_initializer.append(s)
    return m


def sparse_const(s, shape=(2,)):
    return mk([h.make_node("Constant", [], ["y"], sparse_value=s)], ins=[],
              outs=[h.make_tensor_value_info("y", T.FLOAT, list(shape))])


# (model, words of oxrt's message; None: valid)
SPARSE = {
    "sparse_initializer_valid": (sparse_init(sparse([5.0], [1], [2])), None),
    "sparse_initializer_unread": (sparse_init(sparse([5.0], [1], [2]), [relu()]), None),
    "sparse_constant_valid": (sparse_const(sparse([5.0, 6.0], [0, 1], [2])), None),
    "sparse_constant_2d_indices": (sparse_const(sparse([5.0], [0, 1], [1, 2], ishape=[1, 2]), [1, 2]), None),
    "sparse_index_out_of_range": (sparse_init(sparse([5.0], [2], [2])), ["'w'", "index 2", "out of range"]),
    "sparse_not_ascending": (sparse_init(sparse([5.0, 6.0], [1, 0], [2])), ["'w'", "position 1", "ascending"]),
    "sparse_repeated_index": (sparse_init(sparse([5.0, 6.0], [1, 1], [2])), ["'w'", "ascending"]),
    "sparse_values_rank_2": (sparse_init(sparse([5.0, 6.0], [0, 1], [2], vshape=[1, 2])), ["values", "rank 1"]),
    "sparse_indices_int32": (sparse_init(sparse([5.0], [1], [2], itype=T.INT32)), ["indices", "int64", "int32"]),
    "sparse_2d_index_out_of_range": (sparse_init(sparse([5.0], [0, 3], [1, 2], ishape=[1, 2])),
                                     ["[0, 1]", "dimension 1"]),
    "sparse_zero_dim": (sparse_init(sparse([5.0], [1], [0])), ["dims[0]", "positive"]),
    "sparse_indices_count": (sparse_init(sparse([5.0, 6.0], [1], [2])), ["indices", "shape [2]"]),
    "sparse_constant_out_of_range": (sparse_const(sparse([5.0], [7], [2])), ["Constant", "sparse_value", "index 7"]),
}


def test_sparse_tensors_same_verdict(oxrt_bin, tmp_path):
    paths = {}
    for name, (m, _) in SPARSE.items():
        paths[name] = str(tmp_path / f"{name}.onnx")
        with open(paths[name], "wb") as f:
            f.write(m.SerializeToString())
    wrong, n_right, n = [], 0, 0
    for full in (False, True):
        bad = oxrt_check(oxrt_bin, paths.values(), full=full)
        for name, p in paths.items():
            # onnx's full check types a sparse initializer as sparse_tensor(float), which Add refuses; oxrt reads it
            # as the dense tensor it stands for, as ONNX Runtime does
            if full and name == "sparse_initializer_valid":
                continue
            try:
                onnx.checker.check_model(p, full_check=full)
                ref = None
            except Exception as e:
                ref = str(e)
            n += 1
            if (ref is None) != (p not in bad):
                wrong.append(f"{name} (full={full}): oxrt={bad.get(p)!r} onnx={ref!r}")
            elif any(w not in bad.get(p, "") for w in SPARSE[name][1] or []):
                wrong.append(f"{name}: message {bad.get(p)!r} lacks one of {SPARSE[name][1]}")
            else:
                n_right += 1
    print(f"sparse tensors: {n_right} of {n} verdicts and messages right")
    assert not wrong, "\n".join(wrong)


# a sparse Constant's declared output against its dense shape: only the full check (shape inference) sees it
SPARSE_CONST_SHAPES = {
    "sparse_constant_shape_ok": ((2,), None),
    "sparse_constant_shape_symbolic": (("n",), None),
    "sparse_constant_dim_differs": ((3,), ["Constant", "'y'", "dimension 0", "inferred as 2", "declared 3"]),
    "sparse_constant_rank_differs": ((1, 2), ["Constant", "'y'", "rank 1", "rank 2"]),
}


def test_sparse_constant_declared_shape(oxrt_bin, tmp_path):
    paths = {}
    for name, (shape, _) in SPARSE_CONST_SHAPES.items():
        paths[name] = str(tmp_path / f"{name}.onnx")
        with open(paths[name], "wb") as f:
            f.write(sparse_const(sparse([5.0], [1], [2]), shape).SerializeToString())
    for full in (False, True):
        bad = oxrt_check(oxrt_bin, paths.values(), full=full)
        for name, p in paths.items():
            words = SPARSE_CONST_SHAPES[name][1] if full else None
            try:
                onnx.checker.check_model(p, full_check=full)
                ref_valid = True
            except Exception:
                ref_valid = False
            assert ref_valid == (words is None), f"{name} (full={full}): onnx's verdict changed"
            assert (p not in bad) == (words is None), f"{name} (full={full}): oxrt says {bad.get(p)!r}"
            for w in words or []:
                assert w in bad[p], f"{name}: {w!r} not in {bad[p]!r}"
