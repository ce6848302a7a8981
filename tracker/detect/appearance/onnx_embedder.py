"""Re-identification ONNX models run with onnxruntime: the packaged OSNet-x0.25 (MSMT17) and ResNet.

A model takes RGB crops normalised with the ImageNet mean and std, (N,3,H,W), and returns
one feature per crop, which is L2-normalised here. The packaged models, both with a dynamic
batch axis, so all crops of a frame run in one call:

- ``osnet_x0_25_msmt17.onnx`` (``appearance.name: osnet``): 256x128 crops, 512-d;
- ``resnet18_x0_25_reid.onnx`` (``appearance.name: resnet`` without weights): the ResNet
  ``tracker train-reid`` distils from OSNet (``make reid-weights``), 128x64 crops, 128-d. Its
  weights are stored in half precision, each cast to fp32 once when the session is built.

A model exported with a fixed batch of 1 (as torchreid exports it) is rewritten in memory by
:func:`make_batch_dynamic`, and a probe at load time checks that batched and one-by-one
outputs agree (else the model runs crop by crop). ``appearance.crop_size: null`` takes the
model's own input size. The half-precision setting does not apply: the models run in fp32.

Only that rewrite needs the ``onnx`` package, imported when a fixed-batch model is given:
the packaged model loads with onnxruntime alone, and nothing here imports torch.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ...config import AppearanceConfig
from ...errors import ConfigError, ModelError
from ..onnx_session import RUN_ERRORS, onnx_device, open_session
from .common import flip_average, l2_normalise
from .crops import DEFAULT_CROP_SIZE, normalised_crops

if TYPE_CHECKING:
    import onnx
    import onnxruntime as ort

log = logging.getLogger(__name__)

ASSETS = Path(__file__).resolve().parents[2] / "assets"
OSNET_WEIGHTS = ASSETS / "osnet_x0_25_msmt17.onnx"
RESNET_WEIGHTS = ASSETS / "resnet18_x0_25_reid.onnx"
BATCH_DIM_NAME = "N"  # symbolic batch axis written into the graph's inputs and outputs
PROBE_CROPS = 2  # crops run at load time, together and one by one, to check the batched graph
PROBE_SEED = 0  # the probe crops are fixed noise, so loading is deterministic
BATCH_TOLERANCE = 1e-5  # largest difference allowed between batched and one-by-one outputs


def make_batch_dynamic(model: onnx.ModelProto) -> bool:
    """Turn a graph exported with batch 1 into one with a symbolic batch axis, in place.

    Sets the first axis of every graph input and output that is fixed at 1 to
    BATCH_DIM_NAME and rewrites constant Reshape targets that start with 1 to start with 0
    ("copy the input's batch"). Returns False, leaving the model untouched, when the
    input batch is not a fixed 1 or a Reshape uses ``allowzero``. The result must be
    checked by running it (see :class:`OnnxEmbedder`): a leading 1 is not always the batch.
    """
    from onnx import numpy_helper

    graph = model.graph
    first = graph.input[0].type.tensor_type.shape.dim
    if not first or not first[0].HasField("dim_value") or first[0].dim_value != 1:
        return False
    reshapes = [n for n in graph.node if n.op_type == "Reshape"]
    if any(a.name == "allowzero" and a.i for n in reshapes for a in n.attribute):
        return False
    targets = {n.input[1] for n in reshapes}
    tensors = [n.attribute[0].t for n in graph.node if n.op_type == "Constant" and n.output[0] in targets]
    tensors += [t for t in graph.initializer if t.name in targets]
    for tensor in tensors:
        shape = numpy_helper.to_array(tensor).copy()
        if shape.ndim == 1 and shape.size and shape[0] == 1:
            shape[0] = 0
            tensor.CopyFrom(numpy_helper.from_array(shape, tensor.name))
    for value in list(graph.input) + list(graph.output):
        dims = value.type.tensor_type.shape.dim
        if dims and dims[0].HasField("dim_value") and dims[0].dim_value == 1:
            dims[0].dim_param = BATCH_DIM_NAME
    del graph.value_info[:]  # stale fixed-batch shape annotations; onnxruntime infers them again
    return True


def _batch_dynamic_copy(path: Path, fix: str) -> bytes | None:
    """The model at ``path`` rewritten by :func:`make_batch_dynamic`, serialised; None when it cannot be."""
    import onnx
    from google.protobuf.message import DecodeError

    try:
        model = onnx.load(str(path))
    except DecodeError:
        raise ModelError(f"cannot read {path} as an ONNX model", fix) from None
    return model.SerializeToString() if make_batch_dynamic(model) else None


class OnnxEmbedder:
    """ReID ONNX model with one (N,3,H,W) image input and one (N,D) feature output.

    ``cfg.weights`` names the file; when it is null, ``default`` (a packaged model) is used.
    """

    def __init__(self, cfg: AppearanceConfig, default: Path = OSNET_WEIGHTS):
        path = Path(cfg.weights).expanduser() if cfg.weights else default
        fix = f"Give a ReID .onnx file with --set appearance.weights=PATH, or null for the packaged {default.name}"
        if not path.is_file():
            raise ModelError(f"appearance weights file not found: {path}", fix)
        device = onnx_device(cfg.device)
        self.session = open_session(str(path), device, path.stem, path, fix, cfg.threads)
        batch, self.crop_size = self._check_io(self.session, path, cfg.crop_size)
        self.input_name = self.session.get_inputs()[0].name
        batched = not isinstance(batch, int) or self._batch_dynamic(path, device, fix, cfg.threads)
        if not batched:
            log.info("%s: the batch-1 graph cannot be batched; embedding crop by crop", path.name)
        self.batch_size = cfg.batch_size if batched else 1
        self.flip = cfg.flip
        self.dim = int(self._run(self._probe()[:1]).shape[1])

    def _batch_dynamic(self, path: Path, device: str, fix: str, threads: int | None) -> bool:
        """For a model exported with a fixed batch of 1: switch to its :func:`make_batch_dynamic` rewrite when
        that gives every crop the features it gets alone; whether it did."""
        dynamic = _batch_dynamic_copy(path, fix)
        if dynamic is None:
            return False
        original = self.session
        try:
            self.session = open_session(dynamic, device, path.stem, path, fix, threads)
            if self._batches_agree():
                return True
        except ModelError:
            pass
        self.session = original
        return False

    @staticmethod
    def _check_io(
        session: ort.InferenceSession, path: Path, crop_size: tuple[int, int] | None
    ) -> tuple[int | str | None, tuple[int, int]]:
        """The batch axis of the model's input (1, or symbolic) and the (height, width) it takes (``crop_size``;
        None: its own); ModelError / ConfigError when it cannot take crops."""
        inputs, outputs = session.get_inputs(), session.get_outputs()
        if len(inputs) != 1 or len(outputs) != 1:
            raise ModelError(f"{path} must have one image input and one feature output", "Give a ReID .onnx file")
        shape = inputs[0].shape
        if len(shape) != 4 or (isinstance(shape[1], int) and shape[1] != 3):
            raise ModelError(f"{path} does not take (N,3,H,W) images", "Give a ReID .onnx file")
        if isinstance(shape[0], int) and shape[0] != 1:
            raise ModelError(f"{path} expects a fixed batch of {shape[0]}", "Export it with batch 1 or a dynamic batch")
        fixed = tuple(d if isinstance(d, int) else None for d in shape[2:])
        if crop_size is None:
            return shape[0], fixed if all(fixed) else DEFAULT_CROP_SIZE
        crop_size = tuple(crop_size)
        if all(fixed) and fixed != crop_size:
            raise ConfigError(
                f"appearance.crop_size {list(crop_size)} does not match the {fixed[0]}x{fixed[1]} input of {path.name}",
                f"Set appearance.crop_size=[{fixed[0]}, {fixed[1]}]",
            )
        return shape[0], crop_size

    def _probe(self) -> np.ndarray:
        rng = np.random.default_rng(PROBE_SEED)
        return rng.standard_normal((PROBE_CROPS, 3, *self.crop_size)).astype(np.float32)

    def _batches_agree(self) -> bool:
        """Whether the batched graph gives every probe crop the features it gets alone."""
        crops = self._probe()
        try:
            together = self._raw(crops)
            alone = np.concatenate([self._raw(crops[i : i + 1]) for i in range(len(crops))])
        except RUN_ERRORS:
            return False
        return together.shape == alone.shape and bool(np.abs(together - alone).max() <= BATCH_TOLERANCE)

    def _raw(self, crops: np.ndarray) -> np.ndarray:
        return self.session.run(None, {self.input_name: crops})[0]

    def _run(self, crops: np.ndarray) -> np.ndarray:
        """(len(crops), dim) features."""
        return self._raw(crops).reshape(len(crops), -1)

    def embed(self, image: np.ndarray, boxes: np.ndarray) -> np.ndarray:
        """(N,dim) float32 unit vectors for the (N,4) xyxy ``boxes`` of a BGR uint8 ``image``."""
        boxes = np.asarray(boxes, np.float32).reshape(-1, 4)
        # crops are cut on the CPU whatever the device: onnxruntime takes numpy input
        return self.embed_crops(normalised_crops(image, boxes, self.crop_size))

    def embed_crops(self, crops: np.ndarray) -> np.ndarray:
        """(N,dim) float32 unit vectors of (N,3,H,W) crops already cut and normalised (``crop_size`` H x W);
        with ``appearance.flip``, averaged with those of the crops mirrored left to right."""
        unit = self._embed_unit(crops)
        return flip_average(unit, self._embed_unit(np.ascontiguousarray(crops[..., ::-1]))) if self.flip else unit

    def _embed_unit(self, crops: np.ndarray) -> np.ndarray:
        out = np.empty((len(crops), self.dim), np.float32)
        for start in range(0, len(crops), self.batch_size):
            out[start : start + self.batch_size] = self._run(crops[start : start + self.batch_size])
        return l2_normalise(out)


__all__ = ["OSNET_WEIGHTS", "OnnxEmbedder", "RESNET_WEIGHTS", "make_batch_dynamic"]
