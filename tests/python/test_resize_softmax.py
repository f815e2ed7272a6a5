"""Resize (nearest) and Softmax/LogSoftmax on tensors large enough to be split over the thread pool.

Nearest resize runs output rows in parallel, copies a row whose source row repeats the previous row's and
replicates integer factors with vector stores; it must equal onnx's reference evaluator exactly for every
coordinate_transformation_mode / nearest_mode, element type and thread count. The Softmax row kernels have
AVX-512, AVX2 and portable versions; each must match a float64 softmax (rows of every length around the vector
widths, -inf rows, huge values, NaN) and flush results below FLT_MIN to 0."""
import os

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402
from onnx.reference import ReferenceEvaluator  # noqa: E402

from conftest import ort_outputs, run_cli  # noqa: E402

COORDS = ["half_pixel", "asymmetric", "align_corners", "pytorch_half_pixel", "tf_half_pixel_for_nn",
          "half_pixel_symmetric"]
NEAREST = ["round_prefer_floor", "round_prefer_ceil", "floor", "ceil"]
ELEM = {np.float32: TensorProto.FLOAT, np.uint8: TensorProto.UINT8, np.float16: TensorProto.FLOAT16,
        np.int64: TensorProto.INT64}


def resize_model(path, shape, dtype, scales=None, sizes=None, roi=None, opset=19, **attrs):
    inits = [numpy_helper.from_array(np.array(roi if roi is not None else [], np.float32), "roi")]
    ins = ["X", "roi"]
    if scales is not None:
        inits.append(numpy_helper.from_array(np.array(scales, np.float32), "scales"))
        ins.append("scales")
    else:
        inits.append(numpy_helper.from_array(np.array([], np.float32), "scales"))
        inits.append(numpy_helper.from_array(np.array(sizes, np.int64), "sizes"))
        ins += ["scales", "sizes"]
    node = helper.make_node("Resize", ins, ["Y"], mode="nearest", **attrs)
    graph = helper.make_graph([node], "g", [helper.make_tensor_value_info("X", ELEM[dtype], list(shape))],
                              [helper.make_tensor_value_info("Y", ELEM[dtype], None)], initializer=inits)
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)]), path)


def check_resize(oxrt_bin, tmp, x, **kw):
    model = os.path.join(tmp, "r.onnx")
    if kw.get("coordinate_transformation_mode") == "tf_half_pixel_for_nn":  # opset 11 only: ORT is the reference
        resize_model(model, x.shape, x.dtype.type, opset=11, **kw)
        want = ort_outputs(model, {"X": x})["Y"]
    else:
        resize_model(model, x.shape, x.dtype.type, **kw)
        want = ReferenceEvaluator(model).run(None, {"X": x})[0]
    for threads in ("1", "2"):
        got = run_threads(oxrt_bin, model, x, tmp, threads)
        assert got.shape == want.shape and got.dtype == want.dtype
        bad = np.flatnonzero(got.reshape(-1) != want.reshape(-1))
        assert bad.size == 0, f"threads {threads}: {bad.size} of {got.size} differ, first at {bad[0]}"


def run_threads(oxrt_bin, model, x, tmp, threads, isa=None):
    out = os.path.join(tmp, "o" + threads)
    os.makedirs(out, exist_ok=True)
    np.save(os.path.join(out, "x.npy"), x)
    run_cli(oxrt_bin, "run", model, "--threads", threads, "--input", f"X={os.path.join(out, 'x.npy')}",
            "--output-dir", out, env={"OXRT_ISA": isa} if isa else None)
    return np.load(os.path.join(out, "Y.npy"))


@pytest.mark.parametrize("coord", COORDS)
@pytest.mark.parametrize("scales", [(1, 1, 2, 2), (1, 1, 4, 4), (1, 1, 3, 2), (1, 1, 1.7, 2.5), (1, 2, 0.6, 0.5)],
                         ids=lambda s: "x".join(map(str, s)))
def test_resize_nearest_scales(oxrt_bin, tmp_path, coord, scales):
    rng = np.random.default_rng(len(coord))
    x = rng.standard_normal((2, 3, 19, 37)).astype(np.float32)
    for nm in (NEAREST if coord in ("half_pixel", "asymmetric") else NEAREST[:1]):
        check_resize(oxrt_bin, str(tmp_path), x, scales=scales, coordinate_transformation_mode=coord,
                     nearest_mode=nm)


@pytest.mark.parametrize("dtype", [np.uint8, np.float16, np.int64])
def test_resize_nearest_other_types(oxrt_bin, tmp_path, dtype):
    x = (np.arange(2 * 3 * 21 * 30) % 251).astype(dtype).reshape(2, 3, 21, 30)
    check_resize(oxrt_bin, str(tmp_path), x, scales=(1, 1, 2, 2), coordinate_transformation_mode="asymmetric",
                 nearest_mode="floor")
    check_resize(oxrt_bin, str(tmp_path), x, sizes=(2, 5, 50, 61))


def test_resize_nearest_crop_extrapolates(oxrt_bin, tmp_path):
    """tf_crop_and_resize past the input: whole rows (copied from the previous one) and row ends extrapolate."""
    x = np.random.default_rng(3).standard_normal((2, 4, 30, 40)).astype(np.float32)
    check_resize(oxrt_bin, str(tmp_path), x, sizes=(2, 4, 70, 90), roi=[0, 0, -0.4, 0.2, 1, 1, 1.3, 1.5],
                 coordinate_transformation_mode="tf_crop_and_resize", extrapolation_value=-7.0)


def test_resize_nearest_1d_and_3d(oxrt_bin, tmp_path):
    x = np.random.default_rng(4).standard_normal((5000,)).astype(np.float32)
    check_resize(oxrt_bin, str(tmp_path), x, scales=(2,), coordinate_transformation_mode="asymmetric",
                 nearest_mode="floor")
    x = np.random.default_rng(5).standard_normal((6, 50, 9)).astype(np.float32)
    check_resize(oxrt_bin, str(tmp_path), x, scales=(2, 2, 4), coordinate_transformation_mode="asymmetric",
                 nearest_mode="floor")


def softmax_model(path, op, shape, axis):
    node = helper.make_node(op, ["X"], ["Y"], axis=axis)
    graph = helper.make_graph([node], "g", [helper.make_tensor_value_info("X", TensorProto.FLOAT, list(shape))],
                              [helper.make_tensor_value_info("Y", TensorProto.FLOAT, None)])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), path)


def ref_softmax(x, log):
    """float64 softmax; NaN rows and all -inf rows come out NaN. Float rounding of x - max gives oxrt a relative
    error up to |x - max| * 2^-24 (the rtol below)."""
    x = x.astype(np.float64)
    m = np.max(np.where(np.isnan(x), -np.inf, x), axis=-1, keepdims=True)
    m = np.where(np.isneginf(m), 0, m)
    e = np.exp(x - m)
    s = e.sum(axis=-1, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        return x - m - np.log(s) if log else e / s


@pytest.mark.parametrize("isa", ["avx512", "avx2", "portable"])
@pytest.mark.parametrize("op", ["Softmax", "LogSoftmax"])
def test_softmax_rows(oxrt_bin, tmp_path, isa, op):
    rng = np.random.default_rng(7)
    for d in (1, 5, 8, 15, 16, 17, 31, 32, 33, 47, 128, 1000):
        x = (rng.standard_normal((3, 40, d)) * 8).astype(np.float32)
        x[0, 0] = -np.inf  # all -inf row: exp(0) everywhere, uniform
        x[0, 1, -1] = 1e30  # one huge value: the others underflow to 0 (Softmax) or to about -1e30 (LogSoftmax)
        x[1, 2, 0] = np.nan  # NaN poisons its row only
        x[2, 3] = -100.0 * np.arange(d)  # exps down to e^-100k: results below FLT_MIN must be 0, not subnormal
        model = os.path.join(str(tmp_path), f"{op}{d}.onnx")
        softmax_model(model, op, x.shape, -1)
        for threads in ("1", "2"):
            got = run_threads(oxrt_bin, model, x, str(tmp_path), threads, isa)
            want = ref_softmax(x, op == "LogSoftmax")
            nan = np.isnan(want)
            assert np.array_equal(np.isnan(got), nan), f"d={d}: NaN rows differ"
            if op == "Softmax":
                assert not np.any((got != 0) & (np.abs(got) < np.finfo(np.float32).tiny)), f"d={d}: subnormal out"
                np.testing.assert_allclose(got[~nan], want[~nan], rtol=1e-5, atol=2e-38, err_msg=f"d={d}")
            else:
                np.testing.assert_allclose(got[~nan], want[~nan], rtol=1e-5, atol=1e-5, err_msg=f"d={d}")
