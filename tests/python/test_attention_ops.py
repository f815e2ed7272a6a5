"""The attention core through its operators: com.microsoft MultiHeadAttention and ONNX Attention (opset 23) as
single-node models, oxrt against ONNX Runtime over random shapes (odd head sizes, batch > 1, sequences past one
query block and one key block), additive and boolean masks with broadcast axes, causal, GQA and a KV cache."""
import numpy as np
import onnxruntime
import pytest
from onnx import TensorProto as TP
from onnx import helper as oh

import oxrt

RTOL, ATOL = 1e-3, 1e-4


def _run_both(model, feeds):
    data = model.SerializeToString()
    so = onnxruntime.SessionOptions()
    so.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_DISABLE_ALL
    ref = onnxruntime.InferenceSession(data, so, providers=["CPUExecutionProvider"]).run(None, feeds)
    got = oxrt.InferenceSession(data).run(None, feeds)
    assert len(ref) == len(got)
    for r, g in zip(ref, got):
        np.testing.assert_allclose(g, r, rtol=RTOL, atol=ATOL)


# (B, S, T, H, D, Dv, mask kind, causal, scale); mask "proj_bias" is the Q/K/V projection bias (input 3)
MHA_CASES = [
    (2, 20, 20, 3, 8, 8, "proj_bias", False, 0.0),
    (1, 70, 70, 2, 16, 16, "proj_bias", True, 0.0),
    (1, 128, 128, 12, 64, 64, None, False, 0.0),
    (2, 7, 7, 2, 4, 4, "key_pad", False, 0.0),
    (2, 70, 70, 3, 5, 7, "full", False, 0.3),
    (1, 33, 300, 2, 16, 16, "key_pad", False, 0.0),
    (2, 65, 65, 4, 8, 8, "key_pad", True, 0.0),
    (1, 9, 9, 1, 3, 3, None, True, 0.0),
    (3, 17, 17, 2, 12, 12, "rows", True, 0.0),
    (1, 129, 129, 2, 64, 64, None, True, 0.125),
]


@pytest.mark.parametrize("B,S,T,H,D,Dv,mask,causal,scale", MHA_CASES)
def test_multihead_attention_matches_ort(B, S, T, H, D, Dv, mask, causal, scale):
    rng = np.random.default_rng(B * 1000 + S * 10 + T + H + D)
    feeds = {"q": rng.standard_normal((B, S, H * D), dtype=np.float32),
             "k": rng.standard_normal((B, T, H * D), dtype=np.float32),
             "v": rng.standard_normal((B, T, H * Dv), dtype=np.float32)}
    ins = ["q", "k", "v"]
    inputs = [oh.make_tensor_value_info(n, TP.FLOAT, feeds[n].shape) for n in ins]
    if mask == "proj_bias":
        feeds["pb"] = rng.standard_normal(2 * H * D + H * Dv, dtype=np.float32)
        ins.append("pb")
        inputs.append(oh.make_tensor_value_info("pb", TP.FLOAT, feeds["pb"].shape))
    elif mask:
        shape = {"key_pad": (B, 1, S, T), "full": (B, H, S, T), "rows": (1, 1, S, T)}[mask]
        m = np.where(rng.random(shape) < 0.2, -10000.0, rng.standard_normal(shape)).astype(np.float32)
        if mask == "key_pad":  # padded tail keys in the last batch (ORT wants the bias's S axis, heads broadcast)
            m[-1, ..., T - 3:] = -10000.0
        feeds["bias"] = m
        ins += ["", "", "bias"]
        inputs.append(oh.make_tensor_value_info("bias", TP.FLOAT, m.shape))
    attrs = {"num_heads": H, "unidirectional": int(causal)}
    if scale:
        attrs["scale"] = scale
    node = oh.make_node("MultiHeadAttention", ins, ["y"], domain="com.microsoft", **attrs)
    g = oh.make_graph([node], "mha", inputs, [oh.make_tensor_value_info("y", TP.FLOAT, None)])
    model = oh.make_model(g, opset_imports=[oh.make_opsetid("", 17), oh.make_opsetid("com.microsoft", 1)])
    _run_both(model, feeds)


# (B, Sq, Skv, Hq, Hkv, D, Dv, rank, mask, causal, past)
ATT_CASES = [
    (1, 128, 128, 12, 12, 64, 64, 3, None, False, 0),
    (2, 9, 9, 4, 2, 8, 8, 4, "bool", False, 0),
    (2, 70, 70, 2, 2, 5, 7, 3, "float", True, 0),
    (1, 3, 3, 2, 1, 16, 16, 4, None, True, 6),
    (2, 1, 1, 4, 4, 8, 8, 4, "float", False, 300),
    (1, 40, 260, 2, 2, 12, 12, 4, "bool", False, 0),
]


@pytest.mark.parametrize("B,Sq,Skv,Hq,Hkv,D,Dv,rank,mask,causal,past", ATT_CASES)
def test_onnx_attention_matches_ort(B, Sq, Skv, Hq, Hkv, D, Dv, rank, mask, causal, past):
    rng = np.random.default_rng(Sq * 100 + Skv + Hq + past)
    if rank == 4:
        shapes = {"Q": (B, Hq, Sq, D), "K": (B, Hkv, Skv, D), "V": (B, Hkv, Skv, Dv)}
    else:
        shapes = {"Q": (B, Sq, Hq * D), "K": (B, Skv, Hkv * D), "V": (B, Skv, Hkv * Dv)}
    feeds = {n: rng.standard_normal(s, dtype=np.float32) for n, s in shapes.items()}
    T = past + Skv
    ins = ["Q", "K", "V", "", "", ""]
    if mask == "bool":
        feeds["M"] = rng.random((B, 1, Sq, T)) < 0.8
        feeds["M"][..., 0] = True
    elif mask == "float":
        feeds["M"] = rng.standard_normal((Sq, T), dtype=np.float32)
    if mask:
        ins[3] = "M"
    if past:
        feeds["PK"] = rng.standard_normal((B, Hkv, past, D), dtype=np.float32)
        feeds["PV"] = rng.standard_normal((B, Hkv, past, Dv), dtype=np.float32)
        ins[4], ins[5] = "PK", "PV"
    while ins and ins[-1] == "":
        ins.pop()
    attrs = {"is_causal": int(causal)}
    if rank == 3:
        attrs.update(q_num_heads=Hq, kv_num_heads=Hkv)
    outs = ["Y", "present_key", "present_value"] if past else ["Y"]
    node = oh.make_node("Attention", ins, outs, **attrs)
    inputs = [oh.make_tensor_value_info(n, TP.BOOL if feeds[n].dtype == bool else TP.FLOAT, feeds[n].shape)
              for n in ins if n]
    g = oh.make_graph([node], "att", inputs, [oh.make_tensor_value_info(n, TP.FLOAT, None) for n in outs])
    model = oh.make_model(g, opset_imports=[oh.make_opsetid("", 23)])
    model.ir_version = 10
    _run_both(model, feeds)
