"""Concat of few long runs (outer <= 4, at least 128 KiB out): the runs are cut into 32 KiB pieces that the pool
shares (src/ops/onnx/Concat.c). Exact against numpy at 1 and 2 threads, with an empty input, odd byte counts and
several element types; a batch of 5 (outer > 4) takes the strided path."""
import os

import numpy as np
import pytest

from conftest import run_cli

onnx = pytest.importorskip("onnx")
from onnx import helper, numpy_helper  # noqa: E402

CASES = [
    ("channels", [(1, 64, 55, 55), (1, 64, 55, 55)], 1, np.float32),
    ("odd", [(2, 3, 71, 70), (2, 0, 71, 70), (2, 5, 71, 70), (2, 1, 71, 70)], 1, np.float32),
    ("axis0", [(40001, 3), (9, 3), (50000, 3)], 0, np.float32),
    ("bytes", [(3, 70001), (3, 1), (3, 65536)], 1, np.uint8),
    ("int64", [(1, 2, 9000), (1, 7, 9000)], 1, np.int64),
    ("outer5", [(5, 40, 60, 60), (5, 24, 60, 60)], 1, np.float32),
]


@pytest.mark.parametrize("name,shapes,axis,dtype", CASES, ids=[c[0] for c in CASES])
@pytest.mark.parametrize("threads", ["1", "2"])
def test_concat_pieces_exact(oxrt_bin, tmp_path, name, shapes, axis, dtype, threads):
    rng = np.random.default_rng(5)
    feeds = {f"x{i}": (rng.standard_normal(s) * 100).astype(dtype) for i, s in enumerate(shapes)}
    elem = helper.np_dtype_to_tensor_dtype(np.dtype(dtype))
    ins = [helper.make_tensor_value_info(k, elem, v.shape) for k, v in feeds.items()]
    g = helper.make_graph([helper.make_node("Concat", list(feeds), ["y"], axis=axis)], "g", ins,
                          [helper.make_tensor_value_info("y", elem, None)])
    path = str(tmp_path / "m.onnx")
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)]), path)
    args = ["run", path, "--threads", threads, "--output-dir", str(tmp_path)]
    for k, v in feeds.items():
        np.save(tmp_path / f"in_{k}.npy", v)
        args += ["--input", f"{k}={tmp_path / f'in_{k}.npy'}"]
    run_cli(oxrt_bin, *args)
    got = np.load(os.path.join(tmp_path, "y.npy"))
    np.testing.assert_array_equal(got, np.concatenate(list(feeds.values()), axis=axis))
