"""Weight-only int8 quantisation of an exported graph's large weights (onnx only, no onnxruntime).

Each MatMul / Gemm weight, Gather table (embeddings) and, with `include_conv`, Conv kernel that is
an initializer with at least `min_elements` values is stored as int8 with one float32 scale per
output channel (symmetric: scale = max|w| / 127, zero point 0) and dequantised in the graph:

    W_q (int8) --Cast(float)--> --Mul(scale, broadcast over the output channel)--> W (float32) --> MatMul

The package downloads a quarter of the bytes; the graph computes in float32 as before, so it runs
on WASM and on WebGPU without `shader-f16`, and its only error is each weight's rounding to 1/254
of its channel's range (`quantize_model` returns that error per tensor).

Why Cast + Mul and not DequantizeLinear: onnxruntime's constant folding deliberately leaves
DequantizeLinear nodes alone (they mark quantised-operator patterns for its QDQ fusions), so a
DequantizeLinear weight is dequantised again on every run; measured on WASM with the v2
transformer, that is ~10 % per denoising step. Cast and Mul of initializers are folded once when
the session is created, after which the graph holds ordinary float32 weights. The arithmetic is
DequantizeLinear's: (q - 0) * scale in float32.
"""
import numpy as np


def quantize_per_channel(w: np.ndarray, axis: int) -> tuple[np.ndarray, np.ndarray]:
    """Symmetric int8 per-channel quantisation along `axis` (the output channel): (q, scale)."""
    reduce_axes = tuple(i for i in range(w.ndim) if i != axis)
    amax = np.abs(w).max(axis=reduce_axes)
    scale = np.where(amax > 0, amax / 127.0, 1.0).astype(np.float32)
    shape = [1] * w.ndim
    shape[axis] = -1
    q = np.clip(np.round(w / scale.reshape(shape)), -127, 127).astype(np.int8)
    return q, scale


def dequantize(q: np.ndarray, scale: np.ndarray, axis: int) -> np.ndarray:
    shape = [1] * q.ndim
    shape[axis] = -1
    return q.astype(np.float32) * scale.reshape(shape)


def quantize_model(model, min_elements: int = 16384, include_conv: bool = False, conv_min_elements: int = 4096) -> dict:
    """Rewrites `model` (onnx ModelProto) in place; returns {weight name: {elements, max_abs_error, rel_rms_error}}."""
    from onnx import TensorProto, helper, numpy_helper

    inits = {i.name: i for i in model.graph.initializer}
    uses: dict[str, int] = {}
    for node in model.graph.node:
        for x in node.input:
            uses[x] = uses.get(x, 0) + 1
    report = {}
    new_nodes = []
    for node in model.graph.node:
        slot, axis, minimum = None, None, min_elements
        if node.op_type == "MatMul" and node.input[1] in inits:
            slot, axis = 1, 1  # [K, N]: one scale per output column
        elif node.op_type == "Gemm" and node.input[1] in inits:
            trans_b = next((a.i for a in node.attribute if a.name == "transB"), 0)
            slot, axis = 1, 0 if trans_b else 1
        elif node.op_type == "Gather" and node.input[0] in inits and next((a.i for a in node.attribute if a.name == "axis"), 0) == 0:
            slot, axis = 0, 0  # embedding table [V, D]: one scale per row
        elif include_conv and node.op_type == "Conv" and node.input[1] in inits:
            slot, axis, minimum = 1, 0, conv_min_elements
        name = node.input[slot] if slot is not None else None
        if name is not None and uses.get(name, 0) == 1:
            w = numpy_helper.to_array(inits[name]).astype(np.float32)
            if w.size >= minimum and w.ndim >= 2:
                q, scale = quantize_per_channel(w, axis)
                err = dequantize(q, scale, axis) - w
                report[name] = {"elements": int(w.size), "max_abs_error": float(np.abs(err).max()),
                                "rel_rms_error": float(np.sqrt((err ** 2).mean() / max((w ** 2).mean(), 1e-30)))}
                shape = [1] * w.ndim
                shape[axis] = -1
                qname, sname, fname, deq = f"{name}_int8", f"{name}_scale", f"{name}_int8_as_float", f"{name}_dequantized"
                model.graph.initializer.remove(inits[name])
                model.graph.initializer.extend([numpy_helper.from_array(q, qname), numpy_helper.from_array(scale.reshape(shape), sname)])
                new_nodes.append(helper.make_node("Cast", [qname], [fname], name=f"{node.name}/weight_int8/Cast", to=TensorProto.FLOAT))
                new_nodes.append(helper.make_node("Mul", [fname, sname], [deq], name=f"{node.name}/weight_int8/Mul"))
                node.input[slot] = deq
        new_nodes.append(node)
    del model.graph.node[:]
    model.graph.node.extend(new_nodes)
    return report
