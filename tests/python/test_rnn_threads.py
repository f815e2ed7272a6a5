"""RNN, GRU and LSTM with constant weights big enough for the persistent column split (rnn_f32.c: each thread owns
a share of the hidden columns for the whole sequence): oxrt at 2 and 3 threads against oxrt at 1 thread and
against ONNX Runtime, over directions, batch sizes, ragged sequence_lens, initial states, peepholes, GRU's two
linear_before_reset forms, hidden sizes that do not split evenly into 64-column blocks, and single-step nodes (whose
weights stay plain for the matrix-vector path)."""
import numpy as np
import onnxruntime
import pytest
from onnx import TensorProto as TP
from onnx import helper as oh
from onnx import numpy_helper as nh

import oxrt

GATES = {"RNN": 1, "GRU": 3, "LSTM": 4}

# (op, hidden, batch, steps, direction, extra attributes, ragged lens, initial state, peepholes)
CASES = [
    ("LSTM", 256, 2, 12, "forward", {}, False, False, False),
    ("LSTM", 128, 1, 9, "reverse", {}, False, True, True),
    ("LSTM", 200, 5, 7, "forward", {"input_forget": 1}, True, True, False),
    ("LSTM", 128, 3, 6, "bidirectional", {}, True, False, False),
    ("GRU", 256, 2, 10, "forward", {"linear_before_reset": 1}, False, False, False),
    ("GRU", 192, 3, 8, "forward", {}, True, True, False),
    ("GRU", 130, 4, 5, "reverse", {"linear_before_reset": 1}, True, False, False),
    ("RNN", 320, 2, 9, "forward", {}, True, True, False),
    # at most 4 rows of input projections known statically: W kept as a plain copy (the originals are released)
    ("LSTM", 128, 2, 1, "forward", {}, False, True, False),
    ("GRU", 96, 1, 3, "reverse", {"linear_before_reset": 1}, False, False, False),
]


def _model(op, H, Bt, S, I, direction, attrs, ragged, init, peep, rng):
    D = 2 if direction == "bidirectional" else 1
    G = GATES[op]
    inits = [nh.from_array((rng.standard_normal((D, G * H, I)) * 0.1).astype(np.float32), "W"),
             nh.from_array((rng.standard_normal((D, G * H, H)) * (0.5 / np.sqrt(H))).astype(np.float32), "R"),
             nh.from_array((rng.standard_normal((D, 2 * G * H)) * 0.1).astype(np.float32), "B")]
    ins = ["X", "W", "R", "B", "", ""]
    graph_in = [oh.make_tensor_value_info("X", TP.FLOAT, [S, Bt, I])]
    feeds = {"X": rng.standard_normal((S, Bt, I)).astype(np.float32)}
    if ragged:
        ins[4] = "L"
        graph_in.append(oh.make_tensor_value_info("L", TP.INT32, [Bt]))
        feeds["L"] = rng.integers(1, S + 1, Bt).astype(np.int32)
        feeds["L"][0] = S
    if init:
        ins[5] = "H0"
        graph_in.append(oh.make_tensor_value_info("H0", TP.FLOAT, [D, Bt, H]))
        feeds["H0"] = rng.standard_normal((D, Bt, H)).astype(np.float32) * 0.5
        if op == "LSTM":
            ins.append("C0")
            graph_in.append(oh.make_tensor_value_info("C0", TP.FLOAT, [D, Bt, H]))
            feeds["C0"] = rng.standard_normal((D, Bt, H)).astype(np.float32) * 0.5
    if peep:
        while len(ins) < 7:
            ins.append("")
        ins[7:] = ["P"]
        inits.append(nh.from_array((rng.standard_normal((D, 3 * H)) * 0.1).astype(np.float32), "P"))
    while ins and ins[-1] == "":
        ins.pop()
    outs = ["Y", "Yh"] + (["Yc"] if op == "LSTM" else [])
    node = oh.make_node(op, ins, outs, hidden_size=H, direction=direction, **attrs)
    graph_out = [oh.make_tensor_value_info(o, TP.FLOAT, None) for o in outs]
    graph = oh.make_graph([node], "g", graph_in, graph_out, inits)
    model = oh.make_model(graph, opset_imports=[oh.make_opsetid("", 14)], ir_version=8)
    return model.SerializeToString(), feeds


def _oxrt(data, feeds, threads):
    so = oxrt.SessionOptions()
    so.intra_op_num_threads = threads
    return oxrt.InferenceSession(data, so).run(None, feeds)


@pytest.mark.parametrize("case", CASES, ids=[f"{c[0]}-{c[1]}-{c[2]}-{c[4]}" for c in CASES])
def test_rnn_threads_match(case):
    op, H, Bt, S, direction, attrs, ragged, init, peep = case
    rng = np.random.default_rng(H * 31 + Bt)
    data, feeds = _model(op, H, Bt, S, 24, direction, attrs, ragged, init, peep, rng)
    one = _oxrt(data, feeds, 1)
    so = onnxruntime.SessionOptions()
    so.intra_op_num_threads = 1
    ref = onnxruntime.InferenceSession(data, so, providers=["CPUExecutionProvider"]).run(None, feeds)
    for r, g in zip(ref, one):
        np.testing.assert_allclose(g, r, rtol=1e-4, atol=2e-5)
    for threads in (2, 3):
        for rep in range(3):  # the runners race for the parts differently every run
            got = _oxrt(data, feeds, threads) if rep == 0 else sess.run(None, feeds)
            if rep == 0:
                so2 = oxrt.SessionOptions()
                so2.intra_op_num_threads = threads
                sess = oxrt.InferenceSession(data, so2)
            for a, b in zip(one, got):
                # the same kernel computes every column in the same order whichever thread runs it
                np.testing.assert_allclose(b, a, rtol=1e-6, atol=1e-7)
