"""Frames on the GPU: each decoded frame goes to the device once, for the detector and the embedder.

A detector or embedder that can take frames as tensors says on which device with its
``frames_device`` attribute (None: it takes the numpy frames). The pipeline then uploads
each batch once with :func:`upload_frames` and hands the same tensors to both, so the
embedder cuts its ``roi_align`` crops from the frame the detector already has on the GPU
instead of copying the frame from the host again.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import torch
# torch is imported only for a model that takes tensors: the default ONNX models start without it


def frames_device(model) -> torch.device | None:
    """The device ``model`` takes frames on as tensors (``cuda`` as ``cuda:N``); None when it takes numpy frames."""
    device = getattr(model, "frames_device", None)
    if device is None:
        return None
    import torch

    device = torch.device(device)
    if device.type == "cuda" and device.index is None:
        device = torch.device("cuda", torch.cuda.current_device())
    return device


def upload_frames(images: list[np.ndarray], device: str | torch.device) -> list[torch.Tensor]:
    """Each BGR uint8 (H,W,3) frame as a uint8 tensor of the same shape on ``device``.

    On CUDA each frame is copied into page-locked (pinned) host memory, from which the copy to
    the GPU runs asynchronously (``non_blocking``): the calling thread goes on to the next
    frame while the previous one is in flight, and kernels queued after it on the same stream
    see it complete. torch's caching host allocator keeps a pinned block until its copy has
    finished, so the staging memory is reused without a synchronisation here. On the CPU the
    tensors share the numpy frames' memory.
    """
    import torch

    device = torch.device(device)
    if device.type == "cpu":
        return [torch.from_numpy(np.ascontiguousarray(image)) for image in images]
    out = []
    for image in images:
        staging = torch.empty(image.shape, dtype=torch.uint8, pin_memory=True)
        np.copyto(staging.numpy(), image)
        out.append(staging.to(device, non_blocking=True))
    return out


def detect_frames(detector, images: list[np.ndarray], indices: list[int], upload_device: torch.device | None):
    """``detector.detect`` on a batch, through the frames uploaded to ``upload_device`` when it is not None.

    Returns the detections and the uploaded frames (None when nothing was uploaded). The
    detector gets the uploaded frames when it takes tensors (``frames_device``); the upload
    may be for the embedder alone.
    """
    uploaded = upload_frames(images, upload_device) if upload_device is not None else None
    if uploaded is not None and frames_device(detector) is not None:
        return detector.detect(images, indices, uploaded), uploaded
    return detector.detect(images, indices), uploaded


def detect_batch(detector, frames: list, upload: tuple) -> Iterator[tuple]:
    """(frame, detections, the image the embedder takes) for each of ``frames`` (source Frames), detected in one
    call. ``upload``: (device to upload to or None, whether the embedder takes the upload), as
    :func:`tracker.pipeline.upload_plan` gives it; the embedder's image is the frame's upload, else the frame."""
    upload_device, embed_uploaded = upload
    detections, uploaded = detect_frames(detector, [f.image for f in frames], [f.index for f in frames], upload_device)
    for i, (frame, dets) in enumerate(zip(frames, detections)):
        yield frame, dets, uploaded[i] if embed_uploaded else frame.image


__all__ = ["detect_batch", "detect_frames", "frames_device", "upload_frames"]
