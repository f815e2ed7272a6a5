"""TreeEnsembleRegressor / TreeEnsembleClassifier on random forests against ONNX Runtime: the bit-mask path (trees of
at most 32 leaves), the lockstep walk (OXRT_TREE_QS=0, or a tree of more leaves) and the general walk (mixed
modes), with ties between inputs and thresholds, NaN inputs, several targets and row counts around the blocks."""
import numpy as np
import onnxruntime
import pytest
from onnx import TensorProto as TP
from onnx import helper as oh

import oxrt

VALUES = np.array([-2.5, -1.0, -0.25, 0.0, 0.5, 1.0, 3.0], dtype=np.float32)  # inputs hit thresholds exactly


def _tree(rng, tid, n_leaves, n_feat, modes, n_targets, attrs):
    """One random tree of n_leaves leaves appended to attrs (node ids in creation order)."""
    nodes = [None]  # node id -> [mode, feature, value, true id, false id]
    open_leaves = [0]
    while len(open_leaves) < n_leaves:
        nid = open_leaves.pop(int(rng.integers(len(open_leaves))))
        t, f = len(nodes), len(nodes) + 1
        nodes += [None, None]
        nodes[nid] = [str(rng.choice(modes)), int(rng.integers(n_feat)), float(rng.choice(VALUES)), t, f]
        open_leaves += [t, f]
    for nid, nd in enumerate(nodes):
        attrs["nodes_treeids"].append(tid)
        attrs["nodes_nodeids"].append(nid)
        attrs["nodes_missing_value_tracks_true"].append(int(rng.integers(2)) if nd else 0)
        if nd:
            for k, v in zip(("nodes_modes", "nodes_featureids", "nodes_values", "nodes_truenodeids",
                             "nodes_falsenodeids"), nd):
                attrs[k].append(v)
        else:
            for k, v in zip(("nodes_modes", "nodes_featureids", "nodes_values", "nodes_truenodeids",
                             "nodes_falsenodeids"), ("LEAF", 0, 0.0, 0, 0)):
                attrs[k].append(v)
            for tg in rng.choice(n_targets, size=int(rng.integers(1, n_targets + 1)), replace=False):
                attrs["w_tree"].append(tid)
                attrs["w_node"].append(nid)
                attrs["w_id"].append(int(tg))
                attrs["w"].append(float(np.float32(rng.standard_normal())))


def _forest(rng, leaves, n_feat, modes, n_targets):
    keys = ("nodes_treeids", "nodes_nodeids", "nodes_modes", "nodes_featureids", "nodes_values",
            "nodes_truenodeids", "nodes_falsenodeids", "nodes_missing_value_tracks_true", "w_tree", "w_node",
            "w_id", "w")
    attrs = {k: [] for k in keys}
    for tid, n in enumerate(leaves):
        _tree(rng, tid, n, n_feat, modes, n_targets, attrs)
    return attrs


def _inputs(rng, n, n_feat, nan):
    x = rng.choice(VALUES, size=(n, n_feat)) + (rng.random((n, n_feat)) < 0.3) * 0.125
    x = x.astype(np.float32)
    if nan:
        x[rng.random((n, n_feat)) < 0.1] = np.nan
    return x


def _compare(model, x, monkeypatch, qs):
    monkeypatch.setenv("OXRT_TREE_QS", qs)
    data = model.SerializeToString()
    so = onnxruntime.SessionOptions()
    so.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_DISABLE_ALL
    ref = onnxruntime.InferenceSession(data, so, providers=["CPUExecutionProvider"]).run(None, {"x": x})
    got = oxrt.InferenceSession(data).run(None, {"x": x})
    for g, r in zip(got, ref):
        if g.dtype.kind == "f":
            np.testing.assert_allclose(g, r, rtol=1e-5, atol=1e-5)
        else:
            np.testing.assert_array_equal(g, r)


def _model(node, outs):
    graph = oh.make_graph([node], "g", [oh.make_tensor_value_info("x", TP.FLOAT, [None, None])], outs)
    return oh.make_model(graph, opset_imports=[oh.make_opsetid("", 17), oh.make_opsetid("ai.onnx.ml", 3)])


@pytest.mark.parametrize("qs", ["1", "0"])
@pytest.mark.parametrize("modes,leaves,n_targets,agg,nan", [
    (["BRANCH_LEQ"], [1, 2, 12, 31, 32, 5] * 4, 1, "SUM", False),
    (["BRANCH_LT"], [7, 32, 3, 16] * 5, 3, "SUM", True),
    (["BRANCH_GTE"], [12] * 30, 2, "AVERAGE", False),
    (["BRANCH_GT"], [32, 1, 20] * 6, 1, "AVERAGE", True),
    (["BRANCH_LEQ"], [12, 40, 3] * 5, 1, "SUM", False),  # one tree over 32 leaves: the lockstep walk
    (["BRANCH_LEQ", "BRANCH_GT"], [6, 9] * 5, 2, "SUM", True),  # mixed modes: the general walk
])
@pytest.mark.parametrize("rows", [1, 9, 64, 200])
def test_regressor(qs, modes, leaves, n_targets, agg, nan, rows, monkeypatch):
    rng = np.random.default_rng(len(leaves) * 131 + n_targets * 7 + rows + nan)
    n_feat = 6
    a = _forest(rng, leaves, n_feat, modes, n_targets)
    node = oh.make_node(
        "TreeEnsembleRegressor", ["x"], ["y"], domain="ai.onnx.ml", n_targets=n_targets,
        aggregate_function=agg, base_values=[0.5 * (t + 1) for t in range(n_targets)],
        target_treeids=a["w_tree"], target_nodeids=a["w_node"], target_ids=a["w_id"], target_weights=a["w"],
        **{k: a[k] for k in a if k.startswith("nodes_")})
    model = _model(node, [oh.make_tensor_value_info("y", TP.FLOAT, [None, n_targets])])
    _compare(model, _inputs(rng, rows, n_feat, nan), monkeypatch, qs)


@pytest.mark.parametrize("qs", ["1", "0"])
@pytest.mark.parametrize("n_classes,post", [(4, "SOFTMAX"), (3, "NONE")])
def test_classifier(qs, n_classes, post, monkeypatch):
    rng = np.random.default_rng(n_classes)
    n_feat = 5
    a = _forest(rng, [int(rng.integers(1, 33)) for _ in range(3 * n_classes)], n_feat, ["BRANCH_LEQ"], n_classes)
    node = oh.make_node(
        "TreeEnsembleClassifier", ["x"], ["label", "probs"], domain="ai.onnx.ml", post_transform=post,
        classlabels_int64s=list(range(n_classes)), class_treeids=a["w_tree"], class_nodeids=a["w_node"],
        class_ids=a["w_id"], class_weights=a["w"], **{k: a[k] for k in a if k.startswith("nodes_")})
    model = _model(node, [oh.make_tensor_value_info("label", TP.INT64, [None]),
                          oh.make_tensor_value_info("probs", TP.FLOAT, [None, n_classes])])
    _compare(model, _inputs(rng, 150, n_feat, False), monkeypatch, qs)
