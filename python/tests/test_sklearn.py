"""The classic scikit-learn -> skl2onnx -> runtime flow, as ONNX's docs write it,
with `import oxrt as rt` in place of onnxruntime."""

import numpy
import pytest

pytest.importorskip("sklearn")
pytest.importorskip("skl2onnx")

from sklearn.datasets import load_iris  # noqa: E402
from sklearn.ensemble import RandomForestClassifier  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402
from skl2onnx import to_onnx  # noqa: E402

import oxrt as rt  # noqa: E402


@pytest.fixture(scope="module")
def iris_forest():
    iris = load_iris()
    X, y = iris.data, iris.target
    X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=0)
    clr = RandomForestClassifier(n_estimators=50, random_state=0)
    clr.fit(X_train, y_train)
    onx = to_onnx(clr, X[:1].astype(numpy.float32))
    return clr, onx, X_test


def _probabilities(prob_output, n_classes):
    # ZipMap's output: one {label: probability} dict per row.
    assert isinstance(prob_output, list) and all(isinstance(d, dict) for d in prob_output)
    return numpy.array([[d[k] for k in range(n_classes)] for d in prob_output])


@pytest.mark.parametrize("source", ["path", "bytes"])
def test_random_forest_iris(iris_forest, tmp_path, source):
    clr, onx, X_test = iris_forest
    if source == "path":
        with open(tmp_path / "rf_iris.onnx", "wb") as f:
            f.write(onx.SerializeToString())
        sess = rt.InferenceSession(str(tmp_path / "rf_iris.onnx"), providers=["CPUExecutionProvider"])
    else:
        sess = rt.InferenceSession(onx.SerializeToString(), providers=["CPUExecutionProvider"])
    input_name = sess.get_inputs()[0].name
    label_name = sess.get_outputs()[0].name
    pred_onx = sess.run([label_name], {input_name: X_test.astype(numpy.float32)})[0]
    assert pred_onx.dtype == numpy.int64
    numpy.testing.assert_array_equal(pred_onx, clr.predict(X_test.astype(numpy.float32)))

    labels, probs = sess.run(None, {input_name: X_test.astype(numpy.float32)})
    numpy.testing.assert_array_equal(labels, pred_onx)
    assert [o.name for o in sess.get_outputs()] == ["output_label", "output_probability"]
    assert sess.get_outputs()[1].type == "seq(map(int64,tensor(float)))"
    assert all(isinstance(k, int) and isinstance(v, float) for k, v in probs[0].items())
    numpy.testing.assert_allclose(_probabilities(probs, 3), clr.predict_proba(X_test.astype(numpy.float32)),
                                  atol=1e-5)


def test_random_forest_matches_onnxruntime(iris_forest):
    ort = pytest.importorskip("onnxruntime")
    _, onx, X_test = iris_forest
    x = {"X": X_test.astype(numpy.float32)}
    ours = rt.InferenceSession(onx.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, x)
    theirs = ort.InferenceSession(onx.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, x)
    numpy.testing.assert_array_equal(ours[0], theirs[0])
    assert len(ours[1]) == len(theirs[1])
    for a, b in zip(ours[1], theirs[1]):
        assert a.keys() == b.keys()
        numpy.testing.assert_allclose([a[k] for k in a], [b[k] for k in a], atol=1e-6)


def test_random_forest_without_zipmap(iris_forest):
    clr, _, X_test = iris_forest
    onx = to_onnx(clr, X_test[:1].astype(numpy.float32), options={"zipmap": False})
    sess = rt.InferenceSession(onx.SerializeToString(), providers=["CPUExecutionProvider"])
    labels, probs = sess.run(None, {sess.get_inputs()[0].name: X_test.astype(numpy.float32)})
    assert isinstance(probs, numpy.ndarray) and probs.dtype == numpy.float32 and probs.shape == (len(X_test), 3)
    numpy.testing.assert_array_equal(labels, clr.predict(X_test.astype(numpy.float32)))
    numpy.testing.assert_allclose(probs, clr.predict_proba(X_test.astype(numpy.float32)), atol=1e-5)
