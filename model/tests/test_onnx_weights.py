"""The training's ONNX weight reader on a graph built by the engine (npm run rebuild-transformer), whose
layout differs from PyTorch's exports: Linear weights as MatMul operands [in, out] (square ones too),
the patch embedding as a MatMul over flattened patches, node names that carry only the block. It must
give back exactly the weights of the export the graph was rebuilt from."""
import json
from pathlib import Path

import numpy as np

from flowfill.mmdit import SD3Transformer2DModel
from flowfill.onnx_weights import read_state_dict

FIXTURES = Path(__file__).resolve().parents[2] / "test" / "model" / "fixtures"


def test_engine_rebuilt_graph_reads_back_as_the_exported_weights():
    config = json.loads((FIXTURES / "int8-tiny" / "package" / "transformer" / "config.json").read_text())
    expected = {k: tuple(v.shape) for k, v in SD3Transformer2DModel(config).state_dict().items()}
    exported = read_state_dict(FIXTURES / "int8-tiny" / "package" / "transformer" / "model.onnx", expected)
    rebuilt = read_state_dict(FIXTURES / "int8-tiny-rebuilt" / "transformer" / "model.onnx", expected)
    assert set(rebuilt) == set(exported)
    square = [k for k, shape in expected.items() if len(shape) == 2 and shape[0] == shape[1]]
    assert square, "the fixture must hold square Linear weights (the case a shape check cannot orient)"
    for key in exported:
        np.testing.assert_array_equal(rebuilt[key], exported[key], err_msg=key)
