"""A script written for onnxruntime, run unchanged by test_ort_compat.py and
once more with `onnxruntime` replaced by `oxrt` in its imports.

usage: python ort_script.py WORKDIR   (prints one JSON record on stdout)
"""

import json
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

import onnxruntime as ort
from onnxruntime.capi.onnxruntime_pybind11_state import (
    Fail,
    InvalidArgument,
    InvalidGraph,
    InvalidProtobuf,
    NoSuchFile,
)


def build_models(workdir):
    rng = np.random.default_rng(0)
    w = rng.standard_normal((4, 3)).astype(np.float32)
    b = rng.standard_normal(3).astype(np.float32)
    graph = helper.make_graph(
        [
            helper.make_node("MatMul", ["X", "W"], ["XW"]),
            helper.make_node("Add", ["XW", "B"], ["Z"]),
            helper.make_node("Relu", ["Z"], ["Y"]),
            helper.make_node("ReduceSum", ["Y", "axes"], ["S"], keepdims=0),
        ],
        "mlp",
        [helper.make_tensor_value_info("X", TensorProto.FLOAT, ["batch", 4])],
        [
            helper.make_tensor_value_info("Y", TensorProto.FLOAT, ["batch", 3]),
            helper.make_tensor_value_info("S", TensorProto.FLOAT, ["batch"]),
        ],
        initializer=[
            numpy_helper.from_array(w, "W"),
            numpy_helper.from_array(b, "B"),
            numpy_helper.from_array(np.array([1], np.int64), "axes"),
        ],
        doc_string="relu(x @ w + b) and its row sums",
    )
    model = helper.make_model(graph, producer_name="compat-script", producer_version="2.1", domain="ai.test",
                              model_version=7, doc_string="model for the compatibility script",
                              opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    model.metadata_props.add(key="license", value="MIT")
    mlp_path = os.path.join(workdir, "mlp.onnx")
    onnx.save(model, mlp_path)

    graph = helper.make_graph(
        [helper.make_node("Identity", ["T"], ["U"]), helper.make_node("Not", ["F"], ["G"])],
        "misc",
        [helper.make_tensor_value_info("T", TensorProto.STRING, [None]),
         helper.make_tensor_value_info("F", TensorProto.BOOL, [2, 2])],
        [helper.make_tensor_value_info("U", TensorProto.STRING, [None]),
         helper.make_tensor_value_info("G", TensorProto.BOOL, [2, 2])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return mlp_path, model.SerializeToString()


def error_name(fn):
    """Name of the exception class fn raises, checked against the classes a script catches."""
    try:
        fn()
    except InvalidArgument:
        return "InvalidArgument"
    except NoSuchFile:
        return "NoSuchFile"
    except InvalidProtobuf:
        return "InvalidProtobuf"
    except (InvalidGraph, Fail) as e:
        return type(e).__name__
    except ValueError:
        return "ValueError"
    except RuntimeError:
        return "RuntimeError"
    except Exception as e:  # noqa: BLE001
        return "other:" + type(e).__name__
    return "no error"


def main(workdir):
    mlp_path, misc_bytes = build_models(workdir)
    rec = {}
    rec["device"] = ort.get_device()
    rec["cpu_available"] = "CPUExecutionProvider" in ort.get_available_providers()
    rec["has_version"] = isinstance(ort.__version__, str)

    so = ort.SessionOptions()
    so.intra_op_num_threads = 2
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED
    so.log_severity_level = 3
    rec["so"] = [so.intra_op_num_threads, int(so.graph_optimization_level), str(so.graph_optimization_level),
                 so.log_severity_level]
    sess = ort.InferenceSession(mlp_path, sess_options=so, providers=["CPUExecutionProvider"])
    rec["providers"] = sess.get_providers()
    rec["inputs"] = [[i.name, i.type, i.shape] for i in sess.get_inputs()]
    rec["outputs"] = [[o.name, o.type, o.shape] for o in sess.get_outputs()]
    rec["input_str"] = str(sess.get_inputs()[0])
    meta = sess.get_modelmeta()
    rec["meta"] = [meta.producer_name, meta.graph_name, meta.domain, meta.description, meta.graph_description,
                   meta.version, meta.custom_metadata_map]

    x = np.linspace(-1, 1, 20, dtype=np.float32).reshape(5, 4)
    input_name = sess.get_inputs()[0].name
    outs = sess.run(None, {input_name: x})
    rec["out_kinds"] = [[type(o).__name__, str(o.dtype), list(o.shape)] for o in outs]
    rec["out_values"] = [np.round(o.astype(np.float64), 4).tolist() for o in outs]
    label = sess.get_outputs()[1].name
    rec["one_output"] = np.round(sess.run([label], {input_name: x})[0].astype(np.float64), 4).tolist()
    rec["from_list"] = np.round(sess.run(["Y"], {"X": x.tolist()})[0].astype(np.float64), 4).tolist()
    ro = ort.RunOptions()
    ro.log_severity_level = 3
    rec["with_run_options"] = len(sess.run(None, {"X": x}, ro))
    rec["bytes_session_same"] = bool(
        np.array_equal(ort.InferenceSession(open(mlp_path, "rb").read()).run(["Y"], {"X": x})[0], outs[0]))

    rec["errors"] = {
        "dtype": error_name(lambda: sess.run(None, {"X": x.astype(np.float64)})),
        "shape": error_name(lambda: sess.run(None, {"X": np.zeros((2, 5), np.float32)})),
        "rank": error_name(lambda: sess.run(None, {"X": np.zeros((4,), np.float32)})),
        "missing_input": error_name(lambda: sess.run(None, {"x": x})),
        "bad_output": error_name(lambda: sess.run(["nope"], {"X": x})),
        "scalar": error_name(lambda: sess.run(None, {"X": 1.0})),
        "bad_list": error_name(lambda: sess.run(None, {"X": [[1, 2, 3, "a"]]})),
        "no_file": error_name(lambda: ort.InferenceSession(os.path.join(workdir, "missing.onnx"))),
        "garbage": error_name(lambda: ort.InferenceSession(b"\x08\x07garbage\xff\xff")),
    }
    try:
        sess.run(None, {"X": x.astype(np.float64)})
    except Exception as e:  # noqa: BLE001
        rec["error_is_exception"] = isinstance(e, Exception)
        rec["error_is_runtimeerror"] = isinstance(e, RuntimeError)
        rec["error_module_tail"] = type(e).__module__.split(".", 1)[1]

    misc = ort.InferenceSession(misc_bytes, providers=["CPUExecutionProvider"])
    u, g = misc.run(None, {"T": np.array(["a", "b c", ""]), "F": np.array([[True, False], [False, True]])})
    rec["strings"] = [str(u.dtype), u.tolist()]
    rec["bools"] = [str(g.dtype), g.tolist()]
    u, _ = misc.run(None, {"T": ["x", "y"], "F": [[True, True], [True, True]]})
    rec["strings_from_list"] = u.tolist()
    print(json.dumps(rec, sort_keys=True))


if __name__ == "__main__":
    main(sys.argv[1])
