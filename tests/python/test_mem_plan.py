"""The static activation arena (src/exec/mem_plan.c): the first run of a shape signature records its tensors'
lifetimes, later runs replay them from one arena. Replayed runs must give bit-identical outputs to runs that take
every tensor from the pool (enable_mem_pattern off), across new inputs, changing shapes, data-dependent sizes that make a
replay depart from its plan, and concurrent runs."""
import threading

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

import generate
import oxrt


def _session(path, plan_on):
    so = oxrt.SessionOptions()
    so.enable_mem_pattern = plan_on  # ONNX Runtime's option; off: every run takes its tensors from the pool
    return oxrt.InferenceSession(path, so)


def test_environment_changes_only_the_default(tmp_path, monkeypatch):
    path = str(tmp_path / "dyn.onnx")
    _dynamic_model(path)
    x = np.ones((8, 64), np.float32)
    monkeypatch.setenv("OXRT_MEM_PLAN", "0")
    want = oxrt.InferenceSession(path).run(None, {"x": x})[0]
    for plan_on in (True, False):
        s = _session(path, plan_on)
        for _ in range(3):
            np.testing.assert_array_equal(s.run(None, {"x": x})[0], want)


def _feeds(sess, rng, dims=None):
    feeds = {}
    for i in sess.get_inputs():
        shape = [d if isinstance(d, int) else (dims or {}).get(d, 2) for d in i.shape]
        if "int64" in i.type:
            feeds[i.name] = rng.integers(0, 50, size=shape).astype(np.int64)
        else:
            feeds[i.name] = rng.standard_normal(shape).astype(np.float32)
    return feeds


def _same(a_outs, b_outs, what):
    for k, (a, b) in enumerate(zip(a_outs, b_outs)):
        assert a.shape == b.shape, f"{what}: output {k} shape {a.shape} vs {b.shape}"
        assert np.array_equal(a, b, equal_nan=True), f"{what}: output {k} differs, max {np.max(np.abs(a - b))}"


@pytest.mark.parametrize("name", ["resnet18", "mobilenet_v2", "efficientnet_b0", "bert_small", "gpt2_small", "lstm"])
def test_replay_matches_pool(name, model_dir):
    path = generate.generate(name, model_dir, small=True)
    planned, pooled = _session(path, True), _session(path, False)
    rng = np.random.default_rng(7)
    for r in range(4):  # run 0 records, 1..3 replay with new data
        feeds = _feeds(planned, rng)
        _same(planned.run(None, feeds), pooled.run(None, feeds), f"{name} run {r}")


def _dynamic_model(path):
    """x [N, C] -> three layers whose intermediates scale with N; y [N, C]."""
    rng = np.random.default_rng(0)
    c = 64
    inits, nodes, cur = [], [], "x"
    for i in range(3):
        inits.append(helper.make_tensor(f"w{i}", TensorProto.FLOAT, [c, c], rng.standard_normal(c * c) / 8))
        nodes += [helper.make_node("MatMul", [cur, f"w{i}"], [f"m{i}"]), helper.make_node("Relu", [f"m{i}"], [f"r{i}"]),
                  helper.make_node("Add", [f"r{i}", cur], [f"a{i}"])]
        cur = f"a{i}"
    nodes.append(helper.make_node("Sigmoid", [cur], ["y"]))
    g = helper.make_graph(nodes, "dyn", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", c])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", c])], inits)
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]), path)


def test_shapes_change_between_runs(tmp_path):
    path = str(tmp_path / "dyn.onnx")
    _dynamic_model(path)
    planned, pooled = _session(path, True), _session(path, False)
    rng = np.random.default_rng(1)
    for n in [8, 8, 300, 8, 1, 300, 1000, 8, 300]:  # new signatures, and back to recorded ones
        x = rng.standard_normal((n, 64)).astype(np.float32)
        _same(planned.run(None, {"x": x}), pooled.run(None, {"x": x}), f"N={n}")


def _data_dependent_model(path):
    """The same input shape gives intermediates of different sizes: NonZero picks how many elements go on."""
    nodes = [
        helper.make_node("Relu", ["x"], ["r"]),
        helper.make_node("NonZero", ["r"], ["nz"]),
        helper.make_node("Reshape", ["nz", "flat"], ["idx"]),
        helper.make_node("Gather", ["x", "idx"], ["picked"]),
        helper.make_node("Exp", ["picked"], ["e"]),
        helper.make_node("Tile", ["e", "reps"], ["t"]),  # a larger tensor after the departure
        helper.make_node("ReduceSum", ["t"], ["s"], keepdims=0),
        helper.make_node("Mul", ["x", "s"], ["y"]),
    ]
    inits = [helper.make_tensor("flat", TensorProto.INT64, [1], [-1]),
             helper.make_tensor("reps", TensorProto.INT64, [1], [64])]
    g = helper.make_graph(nodes, "dd", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [4096])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [4096])], inits)
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]), path)


def test_data_dependent_sizes_depart_from_the_plan(tmp_path):
    path = str(tmp_path / "dd.onnx")
    _data_dependent_model(path)
    planned = _session(path, True)
    rng = np.random.default_rng(2)
    for r in range(6):
        x = rng.standard_normal(4096).astype(np.float32)
        x[rng.random(4096) < r / 6] = -1.0  # fewer positives each run: NonZero's size changes
        want = x * np.float32(64 * np.exp(x[x > 0].astype(np.float64)).sum())
        np.testing.assert_allclose(planned.run(None, {"x": x})[0], want, rtol=2e-5, err_msg=f"run {r}")


def test_concurrent_runs_share_plans(model_dir):
    path = generate.generate("resnet18", model_dir, small=True)
    planned, pooled = _session(path, True), _session(path, False)
    rng = np.random.default_rng(3)
    feeds = [_feeds(planned, rng) for _ in range(4)]
    want = [pooled.run(None, f) for f in feeds]
    errors = []

    def worker(t):
        try:
            for r in range(6):
                k = (t + r) % len(feeds)
                _same(planned.run(None, feeds[k]), want[k], f"thread {t} run {r}")
        except AssertionError as e:  # pragma: no cover - reported below
            errors.append(str(e))

    threads = [threading.Thread(target=worker, args=(t,)) for t in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors[0]
