"""Appearance embedders: person crops -> L2-normalised re-identification vectors.

``build_embedder(cfg)`` returns the model named by ``appearance.name``:

- ``osnet``: OSNet-x0.25 (MSMT17) ONNX, packaged, run with onnxruntime (:mod:`.osnet`);
- ``resnet``: a ResNet backbone with global average pooling and an optional linear
  projection, loading torchvision, torchreid/BoxMOT or our own checkpoints (:mod:`.resnet`);
- ``none``: no embedder (``None``).

Implementations are imported lazily, so choosing ``osnet`` never builds a torch model.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np

from ...config import AppearanceConfig
from ...errors import ConfigError

NORM_EPS = 1e-12  # floor of a vector norm, so an all-zero feature stays finite


@runtime_checkable
class Embedder(Protocol):
    """What the pipeline calls. ``dim`` is the embedding width reported by the model."""

    dim: int

    def embed(self, image: np.ndarray, boxes: np.ndarray) -> np.ndarray:
        """(N,dim) float32 unit vectors for the (N,4) xyxy ``boxes`` of a BGR uint8 ``image``; (0,dim) when N == 0."""
        ...


def l2_normalise(features: np.ndarray) -> np.ndarray:
    """Rows of ``features`` scaled to unit length, as contiguous float32."""
    features = np.asarray(features, np.float32)
    norms = np.linalg.norm(features, axis=1, keepdims=True)
    return np.ascontiguousarray(features / np.maximum(norms, NORM_EPS), dtype=np.float32)


def build_embedder(cfg: AppearanceConfig) -> Embedder | None:
    """The embedder named by ``cfg.name``; None for ``none``. Raises ModelError for unusable weights."""
    if cfg.name == "none":
        return None
    if cfg.name == "osnet":
        from .osnet import OSNetEmbedder

        return OSNetEmbedder(cfg)
    if cfg.name == "resnet":
        from .resnet import ResNetEmbedder

        return ResNetEmbedder(cfg)
    raise ConfigError(f"unknown appearance model {cfg.name!r}", "Use osnet, resnet or none")


__all__ = ["Embedder", "build_embedder", "l2_normalise"]
