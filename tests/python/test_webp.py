"""ImageDecoder on WebP files made by Pillow (libwebp): lossy at sizes that are not multiples of 16, with
alpha in an extended (VP8X) file, and lossless; the output must equal Pillow's decoding bit for bit."""
import io

import numpy as np
import pytest

from conftest import run_cli

PIL = pytest.importorskip("PIL")
from PIL import Image, features  # noqa: E402

if not features.check("webp"):
    pytest.skip("Pillow was built without WebP", allow_module_level=True)


def picture(w, h, seed):
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w].astype(float)
    img = np.stack([128 + 100 * np.sin(xx / (3 + c) + c) * np.cos(yy / (5 + c)) for c in range(3)], -1)
    img += rng.normal(0, 12, img.shape)
    img[h // 3 : h // 2 + 1, w // 4 : w // 2 + 1] = rng.integers(0, 256, 3)  # a hard edge
    return Image.fromarray(np.clip(img, 0, 255).astype(np.uint8))


def make_model(path):
    import onnx
    from onnx import TensorProto, helper

    node = helper.make_node("ImageDecoder", ["encoded_stream"], ["image"], pixel_format="RGB")
    g = helper.make_graph(
        [node],
        "webp",
        [helper.make_tensor_value_info("encoded_stream", TensorProto.UINT8, [None])],
        [helper.make_tensor_value_info("image", TensorProto.UINT8, [None, None, 3])],
    )
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 20)]), path)


def decode(oxrt_bin, tmp_path, data, check=True):
    model = tmp_path / "webp.onnx"
    if not model.exists():
        make_model(str(model))
    np.save(tmp_path / "in.npy", np.frombuffer(data, np.uint8))
    p = run_cli(oxrt_bin, "run", str(model), "--input", f"encoded_stream={tmp_path / 'in.npy'}",
                "--output-dir", str(tmp_path), check=check)
    return p if not check else np.load(tmp_path / "image.npy")


CASES = [
    ("lossy 1x1", (1, 1), dict(quality=80)),
    ("lossy 17x9", (17, 9), dict(quality=50)),
    ("lossy 45x37 q95", (45, 37), dict(quality=95, method=6)),
    ("lossy 130x67 q10", (130, 67), dict(quality=10, method=0)),
    ("lossy+alpha 33x20", (33, 20), dict(quality=75, alpha=True)),
    ("lossless 41x23", (41, 23), dict(lossless=True)),
    ("lossless palette 64x31", (64, 31), dict(lossless=True, palette=5)),
    ("lossless+alpha 19x50", (19, 50), dict(lossless=True, alpha=True, method=6)),
]


@pytest.mark.parametrize("name,size,opts", CASES, ids=[c[0] for c in CASES])
def test_webp_matches_pillow(oxrt_bin, tmp_path, name, size, opts):
    opts = dict(opts)
    im = picture(*size, seed=len(name))
    if opts.pop("palette", None):
        im = im.quantize(colors=5).convert("RGB")
    if opts.pop("alpha", False):
        im = im.convert("RGBA")
        a = np.full(size[::-1], 255, np.uint8)
        a[: size[1] // 2] = 100
        im.putalpha(Image.fromarray(a))
    buf = io.BytesIO()
    im.save(buf, "WEBP", **opts)
    data = buf.getvalue()
    expected = np.array(Image.open(io.BytesIO(data)).convert("RGB"))
    got = decode(oxrt_bin, tmp_path, data)
    assert got.shape == expected.shape and np.array_equal(got, expected)


def test_webp_truncated_is_an_error(oxrt_bin, tmp_path):
    buf = io.BytesIO()
    picture(40, 40, 1).save(buf, "WEBP", quality=80)
    data = bytearray(buf.getvalue()[:120])
    data[4:8] = (len(data) - 8).to_bytes(4, "little")  # a consistent RIFF header over cut image data
    data[16:20] = (len(data) - 20).to_bytes(4, "little")
    p = decode(oxrt_bin, tmp_path, bytes(data), check=False)
    assert p.returncode != 0 and "webp:" in p.stderr
