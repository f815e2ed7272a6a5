"""RunOptions, IOBinding and run_async: each script runs on oxrt and on onnxruntime and the two must agree."""

import pathlib
import threading

import numpy as np
import pytest

import oxrt

ort = pytest.importorskip("onnxruntime")

DIGITS = str(pathlib.Path(__file__).resolve().parents[2] / "examples" / "digits" / "model.onnx")
RUNTIMES = [pytest.param(oxrt, id="oxrt"), pytest.param(ort, id="onnxruntime")]


def _session(rt):
    return rt.InferenceSession(DIGITS, providers=["CPUExecutionProvider"])


def _image(batch=2, seed=0):
    return np.random.default_rng(seed).random((batch, 1, 8, 8), dtype=np.float32)


def _both(script):
    """Runs `script(rt)` on both runtimes; returns (oxrt's result, onnxruntime's)."""
    return script(oxrt), script(ort)


def _close(a, b):
    return np.allclose(a, b, rtol=1e-4, atol=1e-5)


def test_run_options_attributes():
    def script(rt):
        ro = rt.RunOptions()
        seen = [ro.terminate, ro.log_severity_level]
        ro.logid = "batch-7"  # onnxruntime's name for the run tag (oxrt also has run_tag)
        ro.log_severity_level = 3
        ro.add_run_config_entry("memory.enable_memory_arena_shrinkage", "cpu:0")
        seen += [ro.logid, ro.log_severity_level, ro.get_run_config_entry("memory.enable_memory_arena_shrinkage")]
        with pytest.raises(RuntimeError):
            ro.get_run_config_entry("absent")
        out = _session(rt).run(None, {"image": _image()}, ro)[0]
        return seen, out

    (a, out_a), (b, out_b) = _both(script)
    assert a == b == [False, -1, "batch-7", 3, "cpu:0"]
    assert _close(out_a, out_b)


def test_terminate_flag():
    def script(rt):
        s = _session(rt)
        ro = rt.RunOptions()
        ro.terminate = True
        with pytest.raises(Exception) as info:
            s.run(None, {"image": _image()}, ro)
        ro.terminate = False
        return type(info.value).__name__, s.run(None, {"image": _image()}, ro)[0]

    (name_a, out_a), (name_b, out_b) = _both(script)
    assert name_a == name_b == "Fail"
    assert _close(out_a, out_b)


def test_terminate_from_another_thread_stops_a_long_run():
    """A run of many batches stops promptly once another thread sets terminate (oxrt only: a timing check)."""
    s = _session(oxrt)
    ro = oxrt.RunOptions()
    x = _image(batch=20000)
    errors = []

    def run():
        try:
            s.run(None, {"image": x}, ro)
        except oxrt.capi.onnxruntime_pybind11_state.Fail as e:
            errors.append(str(e))

    t = threading.Thread(target=run)
    t.start()
    ro.terminate = True
    t.join(timeout=30)
    assert not t.is_alive()
    ro.terminate = False
    # either it was stopped, or (on a very fast machine) it finished before the flag was seen
    assert all("terminated" in e for e in errors)


def test_iobinding_allocated_outputs():
    def script(rt):
        s = _session(rt)
        b = s.io_binding()
        x = _image()
        b.bind_cpu_input("image", x)
        b.bind_output("logits")
        s.run_with_iobinding(b)
        first = b.copy_outputs_to_cpu()[0]
        vals = b.get_outputs()
        assert vals[0].shape() == [2, 10]
        assert np.array_equal(vals[0].numpy(), first)
        # the output the binding allocated is reused: a new shape is an error until the output is bound again
        b.clear_binding_inputs()
        b.bind_cpu_input("image", _image(batch=3, seed=1))
        with pytest.raises(RuntimeError):
            s.run_with_iobinding(b)
        b.bind_output("logits")
        s.run_with_iobinding(b)
        return first, b.copy_outputs_to_cpu()[0], s.run(None, {"image": x})[0]

    (a1, a2, ref_a), (b1, b2, ref_b) = _both(script)
    assert _close(a1, ref_a) and _close(b1, ref_b) and _close(a1, b1)
    assert a2.shape == b2.shape == (3, 10) and _close(a2, b2)


def test_iobinding_outputs_filled_in_place():
    def script(rt):
        s = _session(rt)
        x = _image()
        out = rt.OrtValue.ortvalue_from_shape_and_type([2, 10], np.float32, "cpu", 0)
        ptr = out.data_ptr()
        b = s.io_binding()
        b.bind_cpu_input("image", x)
        b.bind_ortvalue_output("logits", out)
        s.run_with_iobinding(b)
        s.run_with_iobinding(b)
        # a raw buffer bound by pointer is written too
        raw = np.zeros((2, 10), np.float32)
        b2 = s.io_binding()
        b2.bind_input("image", "cpu", 0, np.float32, [2, 1, 8, 8], x.ctypes.data)
        b2.bind_output("logits", "cpu", 0, np.float32, [2, 10], raw.ctypes.data)
        s.run_with_iobinding(b2)
        return out.numpy().copy(), out.data_ptr() == ptr, raw, s.run(None, {"image": x})[0]

    (a, same_a, raw_a, ref_a), (b, same_b, raw_b, ref_b) = _both(script)
    assert same_a and same_b
    assert _close(a, ref_a) and _close(b, ref_b) and _close(a, b)
    assert _close(raw_a, ref_a) and _close(raw_b, ref_b)


def test_iobinding_shape_mismatch_is_an_error():
    def script(rt):
        s = _session(rt)
        out = rt.OrtValue.ortvalue_from_shape_and_type([2, 9], np.float32, "cpu", 0)
        b = s.io_binding()
        b.bind_cpu_input("image", _image())
        b.bind_ortvalue_output("logits", out)
        with pytest.raises(RuntimeError, match="Error in execution"):
            s.run_with_iobinding(b)
        return out.numpy().shape

    a, b = _both(script)
    assert a == b == (2, 9)  # never silently replaced


def test_iobinding_failures_are_runtime_errors():
    """run_with_iobinding raises RuntimeError("Error in execution: ...") for every failure, checked when it runs."""

    def script(rt):
        s = _session(rt)
        seen = []

        def fails(b, needle):
            with pytest.raises(RuntimeError, match="Error in execution") as info:
                s.run_with_iobinding(b)
            seen.append(needle in str(info.value))

        b = s.io_binding()
        b.bind_cpu_input("image", _image())
        fails(b, "output")  # nothing bound to produce
        b.bind_output("nope")  # accepted here, refused by the run
        fails(b, "Invalid output name")
        b.clear_binding_outputs()
        b.bind_output("logits")
        b.bind_cpu_input("image", _image().astype(np.float64))
        fails(b, "double")
        b.clear_binding_inputs()
        fails(b, "image")  # the input is missing
        b.bind_cpu_input("image", _image())
        s.run_with_iobinding(b)
        return seen, b.copy_outputs_to_cpu()[0]

    (seen_a, out_a), (seen_b, out_b) = _both(script)
    assert seen_a == seen_b == [True, True, True, True]
    assert _close(out_a, out_b)


def test_run_tag_must_be_a_string():
    def script(rt):
        ro = rt.RunOptions()
        with pytest.raises(TypeError):
            ro.logid = 5
        ro.logid = "tag"
        return ro.logid

    assert _both(script) == ("tag", "tag")


def test_run_async_calls_back_from_a_worker_thread():
    def script(rt):
        s = _session(rt)
        done = threading.Event()
        got = {}

        def callback(outputs, user_data, err):
            got.update(outputs=outputs, user_data=user_data, err=err, thread=threading.get_ident())
            done.set()

        s.run_async(None, {"image": _image()}, callback, {"id": 7})
        assert done.wait(30)
        out = np.asarray(got["outputs"][0])
        return out, got["user_data"], got["err"], got["thread"] != threading.get_ident()

    (out_a, ud_a, err_a, other_a), (out_b, ud_b, err_b, other_b) = _both(script)
    assert _close(out_a, out_b)
    assert ud_a == ud_b == {"id": 7}
    assert err_a == err_b == ""
    assert other_a and other_b


def test_run_async_reports_errors_to_the_callback():
    def script(rt):
        s = _session(rt)
        done = threading.Event()
        got = {}

        def callback(outputs, user_data, err):
            got.update(outputs=outputs, err=err)
            done.set()

        s.run_async(None, {"image": np.zeros((2, 1, 8, 8), np.int64)}, callback, None)
        assert done.wait(30)
        return got["err"]

    err_a, err_b = _both(script)
    assert err_a and err_b  # both name the problem in `err`
    assert "int64" in err_a or "tensor(int64)" in err_a
