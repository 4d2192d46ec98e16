"""PyTorch state dicts read back out of an exported package's ONNX graphs (no PyTorch checkpoint needed).

torch.onnx.export keeps parameter names for most initializers but stores Linear weights transposed
under generated names ("onnx::MatMul_2408") and GroupNorm affine parameters reshaped to [C, 1, 1]
("onnx::Mul_461"); fused RMS norms (SimplifiedLayerNormalization) and int8 weights behind a
DequantizeLinear also lose their names. The consuming node's name, or its output's name, keeps the
module scope ("/dit/transformer_blocks.0/attn/to_q/MatMul"), and that scope plus the expected
state-dict keys is enough to put every tensor back. The caller checks the result with
`load_state_dict(strict=True)`, so a graph this reader misunderstands fails loudly.

  sd = read_state_dict("models/default/transformer/model.onnx", expected=model.state_dict())
"""
from pathlib import Path

import numpy as np


def _scope(name: str) -> list[str]:
    """'/dit/transformer_blocks.0/attn/to_q/MatMul' -> ['dit', 'transformer_blocks.0', 'attn', 'to_q']."""
    parts = [p for p in name.split("/") if p]
    return parts[:-1]


def _metadata(node) -> dict[str, str]:
    """A node's metadata_props (NodeProto field 9), also with an onnx package too old to know the field."""
    props = getattr(node, "metadata_props", None)
    if props is not None:
        return {p.key: p.value for p in props}
    from google.protobuf.unknown_fields import UnknownFieldSet
    from onnx import StringStringEntryProto

    out = {}
    for field in UnknownFieldSet(node):
        if field.field_number == 9:
            entry = StringStringEntryProto.FromString(field.data)
            out[entry.key] = entry.value
    return out


def _node_scope(node) -> list[str]:
    """The module path of the node: torch.onnx's dynamo exporter records it in the node's metadata
    ("pkg.torch.onnx.name_scopes": ['', 'dit', …, 'dit.transformer_blocks.0.attn.to_q', 'linear_7']);
    the TorchScript exporter in the node's name."""
    scopes = _metadata(node).get("pkg.torch.onnx.name_scopes")
    if scopes:
        import ast

        chain = [x for x in ast.literal_eval(scopes) if x]
        if len(chain) >= 2:
            return chain[-2].split(".")
    return _scope(node.name)


def _initializer_arrays(model) -> dict[str, np.ndarray]:
    from onnx import numpy_helper

    return {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}


def _dequantize(q: np.ndarray, scale: np.ndarray, zero: np.ndarray | None, axis: int) -> np.ndarray:
    q = q.astype(np.float32)
    if zero is not None:
        zero = zero.astype(np.float32)
    if scale.ndim == 0:
        return (q - (zero if zero is not None else 0.0)) * scale
    shape = [1] * q.ndim
    shape[axis] = -1
    z = zero.reshape(shape) if zero is not None else 0.0
    return (q - z) * scale.reshape(shape).astype(np.float32)


def _match(candidates: list[str], expected: dict, shape_ok) -> str | None:
    hits = [k for k in candidates if k in expected and shape_ok(k)]
    return hits[0] if len(hits) == 1 else None


def _keys_for_scope(scope: list[str], leaf: str, expected: dict) -> list[str]:
    """Expected keys whose module path ends with a suffix of `scope` (wrapper prefixes such as
    'dit.' or 'te.' and abbreviated scopes such as 'te/layers.0' are tolerated)."""
    out = []
    for start in range(len(scope)):
        suffix = ".".join(scope[start:] + [leaf])
        out += [k for k in expected if k == suffix or k.endswith("." + suffix)]
        if out:
            break
    return sorted(set(out))


def read_state_dict(path: str | Path, expected: dict, strip_prefixes=("dit.", "te.")) -> dict[str, np.ndarray]:
    """float32 numpy arrays keyed by the names in `expected` (a state_dict or {name: shape});
    raises ValueError naming every expected key it could not find."""
    import onnx

    model = onnx.load(str(path))  # also loads external data next to the file
    arrays = _initializer_arrays(model)
    shapes = {k: tuple(getattr(v, "shape", v)) for k, v in expected.items()}
    out: dict[str, np.ndarray] = {}
    producers = {o: n for n in model.graph.node for o in n.output}

    def put(key, value):
        if key in out and not np.array_equal(out[key], value):
            raise ValueError(f"{path}: two different initializers map to {key}")
        out[key] = value.astype(np.float32) if value.dtype.kind == "f" else value

    # 1. initializers that kept their parameter names; the exporter shares bit-identical tensors
    #    through Identity nodes (two biases that always receive the same gradient stay equal).
    #    A named tensor that is a MatMul's right operand is stored [in, out] (the engine's own graphs,
    #    npm run rebuild-transformer): step 2 transposes it; taking it here would keep a square
    #    weight untransposed.
    named = dict(arrays)
    for node in model.graph.node:
        if node.op_type == "Identity" and node.input[0] in arrays:
            named[node.output[0]] = arrays[node.input[0]]
    matmul_operands = {n.input[1] for n in model.graph.node if n.op_type == "MatMul" and len(n.input) == 2}
    for name, value in named.items():
        if name in matmul_operands:
            continue
        key = name
        for p in strip_prefixes:
            if key.startswith(p) and key[len(p):] in shapes:
                key = key[len(p):]
        if key in shapes and tuple(value.shape) == shapes[key]:
            put(key, value)

    # 2. tensors reached through their consumers: Linear weights (MatMul, possibly behind a
    #    DequantizeLinear), GroupNorm scale/bias (Mul/Add on [C,1,1]), fused RMS-norm weights.
    def weight_source(node_input: str):
        """The float32 weight behind a node input: an initializer, an int8 initializer dequantised by
        Cast -> Mul(scale) (quantize.py), or a DequantizeLinear of initializers."""
        if node_input in arrays:
            return arrays[node_input]
        p = producers.get(node_input)
        if p is not None and p.op_type == "DequantizeLinear" and p.input[0] in arrays:
            axis = next((a.i for a in p.attribute if a.name == "axis"), 1)
            zero = arrays.get(p.input[2]) if len(p.input) > 2 and p.input[2] else None
            return _dequantize(arrays[p.input[0]], arrays[p.input[1]], zero, axis)
        if p is not None and p.op_type == "Mul":
            cast = next((producers.get(x) for x in p.input if producers.get(x) is not None and producers[x].op_type == "Cast"), None)
            scale = next((arrays[x] for x in p.input if x in arrays), None)
            if cast is not None and scale is not None and cast.input[0] in arrays:
                return (arrays[cast.input[0]].astype(np.float32) * scale.astype(np.float32)).astype(np.float32)
        return None

    consumers: dict[str, list] = {}
    for node in model.graph.node:
        for i in node.input:
            consumers.setdefault(i, []).append(node)

    def param_scope(name: str) -> list[str]:
        """'te.a.b.weight_int8' / 'te.a.b.bias' -> ['te', 'a', 'b']; [] for anonymous tensors."""
        for suffix in ("_int8", "_dequantized", "_scale"):
            name = name.removesuffix(suffix)
        for leaf in (".weight", ".bias"):
            if name.endswith(leaf) and not name.startswith(("onnx::", "val_")):
                return name[: -len(leaf)].split(".")
        return []

    def scope_of(node, weight_input: str) -> list[str]:
        """The module the weight belongs to: its own parameter name (or its int8 tensor's) where it
        has one, which is more specific than a node's scope (the engine names nodes by block only);
        else the node's module path; where the exporter recorded none (metadata lost in a version
        conversion), the named bias that the next Add (MatMul -> Add(bias)) or this Gemm adds."""
        p = producers.get(weight_input)
        cast = next((producers.get(x) for x in p.input if x in producers and producers[x].op_type == "Cast"), None) if p is not None else None
        for name in (weight_input, cast.input[0] if cast is not None else ""):
            if param_scope(name):
                return param_scope(name)
        scope = _node_scope(node)
        if scope:
            return scope
        if node.op_type == "Gemm" and len(node.input) > 2 and param_scope(node.input[2]):
            return param_scope(node.input[2])
        for c in consumers.get(node.output[0], []):
            if c.op_type == "Add":
                named = [x for x in c.input if x in arrays and x.endswith(".bias")]
                if len(named) == 1:
                    return param_scope(named[0])
        return []

    for node in model.graph.node:
        if node.op_type == "MatMul" and len(node.input) == 2:
            w = weight_source(node.input[1])
            if w is None or w.ndim != 2:
                continue
            keys = _keys_for_scope(scope_of(node, node.input[1]), "weight", shapes)
            key = _match(keys, shapes, lambda k: shapes[k] == (w.shape[1], w.shape[0]))
            if key:
                put(key, w.T)
                continue
            # A Conv2d with kernel = stride run as a MatMul over flattened patches (the engine's
            # patchify): [C·kh·kw, out] in the weight's own (c, i, j) order.
            conv = _match(keys, shapes, lambda k: len(shapes[k]) == 4 and shapes[k][0] == w.shape[1] and int(np.prod(shapes[k][1:])) == w.shape[0])
            if conv:
                put(conv, w.T.reshape(shapes[conv]))
        elif node.op_type == "Conv" and node.input[1] not in arrays:
            w = weight_source(node.input[1])
            if w is None:
                continue
            keys = _keys_for_scope(scope_of(node, node.input[1]), "weight", shapes)
            key = _match(keys, shapes, lambda k: shapes[k] == tuple(w.shape))
            if key:
                put(key, w)
        elif node.op_type == "Gemm":
            w = weight_source(node.input[1])
            if w is None:
                continue
            trans_b = next((a.i for a in node.attribute if a.name == "transB"), 0)
            keys = _keys_for_scope(scope_of(node, node.input[1]), "weight", shapes)
            wt = w if trans_b else w.T
            key = _match(keys, shapes, lambda k: shapes[k] == wt.shape)
            if key:
                put(key, wt)
            # A bias the exporter shares with another layer (bit-identical: both always get the
            # same gradient) appears under the other layer's name.
            if len(node.input) > 2 and node.input[2] in arrays:
                b = arrays[node.input[2]]
                bkey = _match(_keys_for_scope(scope_of(node, node.input[1]), "bias", shapes), shapes, lambda k: shapes[k] == tuple(b.shape))
                if bkey:
                    put(bkey, b)
        elif node.op_type == "Gather" and node.input[0] not in arrays:
            w = weight_source(node.input[0])
            if w is None or w.ndim != 2:
                continue
            keys = _keys_for_scope(scope_of(node, node.input[0]), "weight", shapes)
            key = _match(keys, shapes, lambda k: shapes[k] == tuple(w.shape))
            if key:
                put(key, w)
        elif node.op_type in ("Mul", "Add") and len(node.input) == 2:
            for inp in node.input:
                v = arrays.get(inp)
                if v is None or v.ndim != 3 or v.shape[1:] != (1, 1) or not inp.startswith("onnx::"):
                    continue
                scope = _node_scope(node)
                leaf = "weight" if node.op_type == "Mul" else "bias"
                key = _match(_keys_for_scope(scope, leaf, shapes), shapes, lambda k: shapes[k] == (v.shape[0],))
                if key:
                    put(key, v.reshape(-1))
        elif node.op_type in ("SimplifiedLayerNormalization", "RMSNormalization", "LayerNormalization"):
            if len(node.input) < 2 or node.input[1] not in arrays or node.input[1] in {k for k in shapes}:
                continue
            v = arrays[node.input[1]]
            scope = _scope(node.output[0].replace("_output_0", ""))
            key = _match(_keys_for_scope(scope, "weight", shapes), shapes, lambda k: shapes[k] == tuple(v.shape))
            if key:
                put(key, v)

    # A position table the dynamo exporter folded into its lookup of every position
    # (embedding(arange(n)) -> one [1, n, d] initializer): the table itself, when exactly one
    # unclaimed [1, n, d] initializer fits the missing table.
    for key in [k for k in shapes if k not in out and k.endswith("position_embedding.weight")]:
        fits = [v for v in arrays.values() if v.ndim == 3 and v.shape[0] == 1 and tuple(v.shape[1:]) == shapes[key] and v.dtype.kind == "f"]
        if len(fits) == 1:
            put(key, fits[0][0])

    missing = [k for k in shapes if k not in out]
    # Buffers a module recomputes deterministically (the sin-cos table) may be folded away.
    missing = [k for k in missing if not k.endswith("pos_embed.pos_embed")]
    if missing:
        raise ValueError(f"{path}: no initializer found for {len(missing)} parameters, e.g. {missing[:6]}")
    return out
