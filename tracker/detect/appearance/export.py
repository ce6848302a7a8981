"""A trained ReIDNet as an ONNX model that onnxruntime runs without torch (the packaged ResNet is one).

The graph takes ``images`` (N,3,H,W) RGB ImageNet-normalised crops with a dynamic batch
and a fixed crop size, and returns ``features`` (N,D) unit vectors. BatchNorm is folded into
the convolutions by the exporter. With ``half_weights`` every float weight is stored in
half precision and cast back to fp32 by a Cast node that onnxruntime folds away when it
builds the session: the file is half the size and the arithmetic stays fp32 (onnxruntime's
CPU kernels have no fp16 convolutions on x86).
"""

from __future__ import annotations

import copy
import io
from pathlib import Path

import numpy as np
import onnx
import torch
from onnx import TensorProto, helper, numpy_helper

from ...errors import OutputError
from .resnet import ReIDNet

INPUT_NAME, OUTPUT_NAME, BATCH_AXIS = "images", "features", "N"
OPSET = 17
HALF_SUFFIX = "_fp16"  # name of the stored half-precision copy of an initializer


def store_half(model: onnx.ModelProto) -> None:
    """Replace every fp32 initializer by an fp16 one plus a Cast back to fp32 under the original name, in place."""
    graph = model.graph
    casts = []
    for tensor in list(graph.initializer):
        if tensor.data_type != TensorProto.FLOAT:
            continue
        half = numpy_helper.from_array(numpy_helper.to_array(tensor).astype(np.float16), tensor.name + HALF_SUFFIX)
        graph.initializer.remove(tensor)
        graph.initializer.append(half)
        casts.append(helper.make_node("Cast", [half.name], [tensor.name], to=TensorProto.FLOAT))
    for node in reversed(casts):  # the casts run first: their outputs feed the rest of the graph
        graph.node.insert(0, node)


def export_onnx(model: ReIDNet, path: str | Path, crop_size: tuple[int, int], half_weights: bool = True) -> Path:
    """Write ``model`` (eval mode, CPU, fp32) as ONNX to ``path``; OutputError when the file cannot be written."""
    path = Path(path)
    net = copy.deepcopy(model).cpu().float().eval()
    buffer = io.BytesIO()
    torch.onnx.export(
        net, torch.zeros(1, 3, *crop_size), buffer, input_names=[INPUT_NAME], output_names=[OUTPUT_NAME],
        dynamic_axes={INPUT_NAME: {0: BATCH_AXIS}, OUTPUT_NAME: {0: BATCH_AXIS}}, opset_version=OPSET, dynamo=False,
    )  # fmt: skip
    graph = onnx.load_from_string(buffer.getvalue())
    if half_weights:
        store_half(graph)
    helper.set_model_props(graph, {"arch": net.arch, "embedding_dim": str(net.embedding_dim)})
    onnx.checker.check_model(graph)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        onnx.save(graph, str(path))
    except OSError as exc:
        raise OutputError(f"cannot write {path}: {exc}", "Give a writable --onnx PATH") from None
    return path


__all__ = ["export_onnx", "store_half"]
