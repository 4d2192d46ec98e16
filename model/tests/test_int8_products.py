"""flowfill.int8_products against onnxruntime's own com.microsoft DynamicQuantizeMatMul: the emulation must
give the kernel's products (to float summation order), one scale per engine call."""
import numpy as np
import pytest
import torch

from flowfill.int8_products import dynamic_int8_products, int8_linears, round_like_dynamic_quantize
from flowfill.quantize import dequantize, quantize_per_channel

ort = pytest.importorskip("onnxruntime")
onnx = pytest.importorskip("onnx")


def dynamic_quantize_matmul(a: np.ndarray, q: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """a @ (q · scale) by onnxruntime's CPU kernel: a rounded to uint8 per call, q int8 with per-column scales."""
    from onnx import TensorProto, helper, numpy_helper

    node = helper.make_node("DynamicQuantizeMatMul", ["A", "B", "b_scale", "b_zero_point"], ["Y"], domain="com.microsoft")
    graph = helper.make_graph(
        [node], "g", [helper.make_tensor_value_info("A", TensorProto.FLOAT, list(a.shape))],
        [helper.make_tensor_value_info("Y", TensorProto.FLOAT, None)],
        initializer=[numpy_helper.from_array(q, "B"), numpy_helper.from_array(scale, "b_scale"),
                     numpy_helper.from_array(np.zeros_like(q[0]), "b_zero_point")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("com.microsoft", 1)], ir_version=8)
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return session.run(None, {"A": a})[0]


def int8_weight(rng, k: int, n: int) -> tuple[np.ndarray, np.ndarray]:
    q, scale = quantize_per_channel(rng.standard_normal((k, n)).astype(np.float32) * 0.05, axis=1)
    return q, scale.reshape(-1).astype(np.float32)


@pytest.mark.parametrize("shift", [0.0, 3.0, -3.0])  # ranges across 0, all positive, all negative (0 widens them)
def test_one_call_rounds_as_the_kernel_does(shift):
    rng = np.random.default_rng(1)
    a = (rng.standard_normal((2, 7, 64)) * 2 + shift).astype(np.float32)  # one engine call: [uncond, cond]
    a[0, 0, 0] = 40.0  # an outlier sets the whole call's scale, as in the kernel
    q, scale = int8_weight(rng, 64, 24)
    want = dynamic_quantize_matmul(a, q, scale)
    got = round_like_dynamic_quantize(torch.from_numpy(a), groups=2).numpy() @ dequantize(q, scale, axis=1)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-4)
    exact = a @ dequantize(q, scale, axis=1)
    assert np.abs(exact - want).max() > 1e-2  # the rounding is there to emulate, not below the tolerance


def test_each_image_of_a_batch_gets_its_own_calls_scale():
    """The sampler draws B images a call as [uncond × B, cond × B]; each must round as its own engine call would."""
    rng = np.random.default_rng(2)
    images = [(rng.standard_normal((2, 5, 32)) * s).astype(np.float32) for s in (0.5, 8.0, 2.0)]
    batched = np.concatenate([np.stack([x[0] for x in images]), np.stack([x[1] for x in images])])
    rounded = round_like_dynamic_quantize(torch.from_numpy(batched), groups=2).numpy()
    for i, x in enumerate(images):
        alone = round_like_dynamic_quantize(torch.from_numpy(x), groups=2).numpy()
        np.testing.assert_array_equal(rounded[[i, len(images) + i]], alone)
    unguided = round_like_dynamic_quantize(torch.from_numpy(batched), groups=1).numpy()
    np.testing.assert_array_equal(unguided[1], round_like_dynamic_quantize(torch.from_numpy(batched[1:2]), groups=1).numpy()[0])


def test_the_hooks_round_only_int8_linears_and_go_away():
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(256, 128), torch.nn.Linear(128, 8))  # 32,768 weights: int8; 1,024: float
    assert int8_linears(net) == [net[0]]
    x = torch.randn(4, 3, 256) * 3
    exact = net(x)
    with dynamic_int8_products(net, guided=True) as hooked:
        rounded = net(x)
    assert hooked == 1
    want = net[1](net[0](round_like_dynamic_quantize(x, groups=2)))
    torch.testing.assert_close(rounded, want)
    assert (rounded - exact).abs().max() > 1e-4
    torch.testing.assert_close(net(x), exact)
