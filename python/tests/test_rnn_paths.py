"""LSTM, GRU and RNN on the float path against onnxruntime: the input projections of a few rows (matrix-vector
products over W as it is) and of many (one packed GEMM), steps split across threads or not, constant weights
(packed once) and weights fed as inputs, forward and bidirectional."""

import itertools

import numpy as np
import pytest
from onnx import TensorProto, helper

import oxrt
from conftest import make_model

ort = pytest.importorskip("onnxruntime")

GATES = {"LSTM": 4, "GRU": 3, "RNN": 1}


def _model(op, S, B, I, H, ndir, const_weights, rng, **attrs):
    G = GATES[op]
    # scaled so the recurrence contracts: rounding differences fade instead of growing over 50 steps
    w = rng.standard_normal((ndir, G * H, I)).astype(np.float32) * np.float32(0.5 / np.sqrt(I))
    r = rng.standard_normal((ndir, G * H, H)).astype(np.float32) * np.float32(0.5 / np.sqrt(H))
    b = rng.standard_normal((ndir, 2 * G * H)).astype(np.float32) * 0.3
    weights = {"W": w, "R": r, "B": b}
    inputs = [("X", TensorProto.FLOAT, [S, B, I])]
    inits = weights if const_weights else {}
    if not const_weights:
        inputs += [(name, TensorProto.FLOAT, list(arr.shape)) for name, arr in weights.items()]
    outs = ["Y", "Y_h"] + (["Y_c"] if op == "LSTM" else [])
    node = helper.make_node(op, ["X", "W", "R", "B"], outs, hidden_size=H,
                            direction="bidirectional" if ndir == 2 else "forward", **attrs)
    outputs = [(o, TensorProto.FLOAT, None) for o in outs]
    feed = {"X": rng.standard_normal((S, B, I)).astype(np.float32)}
    if not const_weights:
        feed.update(weights)
    return make_model([node], inputs, outputs, inits), feed


CASES = [  # (S, B): steps x batch = 1, 3, 4 rows take matrix-vector products; 6, 100 the packed GEMM
    (1, 1), (1, 3), (2, 2), (3, 2), (50, 2),  # hidden 256 at batch 2 splits steps across threads (LSTM, GRU)
]


@pytest.mark.parametrize("op,attrs", [("LSTM", {}), ("GRU", {"linear_before_reset": 1}), ("GRU", {}), ("RNN", {})])
@pytest.mark.parametrize("threads", [1, 2])
def test_rnn_float_paths_match_onnxruntime(op, attrs, threads):
    rng = np.random.default_rng(7)
    for (S, B), H, ndir, const in itertools.product(CASES, [16, 128, 256], [1, 2], [True, False]):
        model, feed = _model(op, S, B, 24, H, ndir, const, rng, **attrs)
        so = oxrt.SessionOptions()
        so.intra_op_num_threads = threads
        got = oxrt.InferenceSession(model, so).run(None, feed)
        want = ort.InferenceSession(model, providers=["CPUExecutionProvider"]).run(None, feed)
        for g, w in zip(got, want):
            np.testing.assert_allclose(g, w, rtol=1e-4, atol=1e-5,
                                       err_msg=f"{op} {attrs} S={S} B={B} H={H} dirs={ndir} const={const}")
