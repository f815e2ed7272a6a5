"""`oxrt graph`: Graphviz DOT with op types, shapes on edges, subgraphs as clusters and a node limit."""
import os
import re
import shutil
import subprocess

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from conftest import run_cli

F = TensorProto.FLOAT


def check_dot(text):
    """Structural checks a DOT reader would make: balanced braces, quoted labels closed, every edge's ends declared."""
    assert text.startswith("digraph ") and text.rstrip().endswith("}")
    assert text.count("{") == text.count("}")
    assert all(line.count('"') % 2 == 0 for line in text.splitlines())
    declared = set(re.findall(r"^\s*(\w+) \[", text, re.M))
    for a, b in re.findall(r"^\s*(\w+) -> (\w+)", text, re.M):
        assert a in declared and b in declared, (a, b)
    if shutil.which("dot"):
        subprocess.run(["dot", "-Tsvg", "-o", os.devnull], input=text, text=True, check=True)


def conv_model():
    w = np.random.RandomState(0).randn(8, 3, 3, 3).astype(np.float32)
    nodes = [helper.make_node("Conv", ["x", "W"], ["c"], pads=[1, 1, 1, 1], name="conv1"),
             helper.make_node("Relu", ["c"], ["r"], name="relu1"),
             helper.make_node("GlobalAveragePool", ["r"], ["y"], name="gap")]
    g = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", F, ["N", 3, 32, 32])],
                          [helper.make_tensor_value_info("y", F, None)], [numpy_helper.from_array(w, "W")])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
    m.ir_version = 8
    return m


def test_dot_has_ops_shapes_and_weights(oxrt_bin, tmp_path):
    src, out = str(tmp_path / "m.onnx"), str(tmp_path / "m.dot")
    onnx.save(conv_model(), src)
    run_cli(oxrt_bin, "graph", src, "-o", out)
    text = open(out).read()
    check_dot(text)
    assert "Conv\\nconv1" in text and "Relu\\nrelu1" in text and "GlobalAveragePool" in text
    assert "W float[8,3,3,3]" in text  # weights in the node's box, not as edges
    assert 'label="float[N,8,32,32]"' in text  # inferred shape on the Conv -> Relu edge, symbolic dim by name
    assert "x\\ntensor(float)[N,3,32,32]" in text  # the graph input with its shape


def test_subgraphs_are_clusters(oxrt_bin, tmp_path):
    then = helper.make_graph([helper.make_node("Neg", ["x"], ["t"])], "then_g", [],
                             [helper.make_tensor_value_info("t", F, [2])])
    els = helper.make_graph([helper.make_node("Abs", ["x"], ["e"])], "else_g", [],
                            [helper.make_tensor_value_info("e", F, [2])])
    nodes = [helper.make_node("If", ["c"], ["y"], then_branch=then, else_branch=els, name="branch")]
    g = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("c", TensorProto.BOOL, []),
                                       helper.make_tensor_value_info("x", F, [2])],
                          [helper.make_tensor_value_info("y", F, [2])])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
    m.ir_version = 8
    src, out = str(tmp_path / "if.onnx"), str(tmp_path / "if.dot")
    onnx.save(m, src)
    run_cli(oxrt_bin, "graph", src, "-o", out)
    text = open(out).read()
    check_dot(text)
    assert text.count("subgraph cluster_") == 2
    assert "If branch.then_branch" in text and "If branch.else_branch" in text
    assert "Neg" in text and "Abs" in text


def test_large_model_node_limit(oxrt_bin, tmp_path):
    nodes = [helper.make_node("Relu" if i % 2 else "Neg", [f"v{i}"], [f"v{i + 1}"]) for i in range(60)]
    g = helper.make_graph(nodes, "chain", [helper.make_tensor_value_info("v0", F, [4])],
                          [helper.make_tensor_value_info("v60", F, [4])])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
    m.ir_version = 8
    src, out = str(tmp_path / "chain.onnx"), str(tmp_path / "chain.dot")
    onnx.save(m, src)
    p = run_cli(oxrt_bin, "graph", src, "-o", out, "--max-nodes", "20")
    text = open(out).read()
    check_dot(text)
    assert "40 more nodes not drawn" in text and "20 Neg" in text and "20 Relu" in text
    assert "20 of 60 nodes drawn" in p.stderr


def test_svg_rendered_with_graphviz(oxrt_bin, tmp_path):
    src, out = str(tmp_path / "m.onnx"), str(tmp_path / "m.svg")
    onnx.save(conv_model(), src)
    p = run_cli(oxrt_bin, "graph", src, "-o", out, check=False)
    if not shutil.which("dot"):
        assert p.returncode == 3 and "apt-get install graphviz" in p.stderr and os.path.exists(out + ".dot")
        return
    assert p.returncode == 0, p.stderr
    svg = open(out).read()
    assert "<svg" in svg and "conv1" in svg and not os.path.exists(out + ".dot")
