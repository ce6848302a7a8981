"""tracker.detect.frames: each frame uploaded once, and the crops cut from that upload."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from tracker.detect.appearance.crops import crop_batch, roi_align_crops
from tracker.detect.frames import frames_device, upload_frames

cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
BOXES = np.array([[10.5, 20.0, 60.0, 140.0], [100.0, 30.0, 131.5, 99.0], [0.0, 0.0, 5.0, 5.0]], np.float32)


@pytest.fixture
def images() -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    return [rng.integers(0, 256, (180, 240, 3), dtype=np.uint8) for _ in range(3)]


def test_upload_on_the_cpu_shares_the_frames(images):
    uploaded = upload_frames(images, "cpu")
    assert [t.shape for t in uploaded] == [i.shape for i in images] and uploaded[0].dtype == torch.uint8
    images[0][0, 0] = 7  # the tensors are views of the decoded frames: nothing is copied on the CPU
    assert int(uploaded[0][0, 0, 0]) == 7


def test_frames_device_names_the_cuda_index():
    class OnCpu:
        frames_device = "cpu"

    assert frames_device(OnCpu()) == torch.device("cpu")
    assert frames_device(object()) is None and frames_device(None) is None


def test_crops_of_an_uploaded_frame_equal_those_of_the_numpy_frame(images):
    tensor = upload_frames(images[:1], "cpu")[0]
    for crops in (roi_align_crops, crop_batch):
        a = crops(images[0], BOXES, (32, 16), "cpu", torch.float32)
        b = crops(tensor, BOXES, (32, 16), "cpu", torch.float32)
        assert torch.equal(a, b)


@pytest.mark.gpu
@cuda
def test_upload_to_cuda_through_pinned_memory(images):
    uploaded = upload_frames(images, "cuda")
    assert all(t.is_cuda and t.dtype == torch.uint8 for t in uploaded)
    for image, tensor in zip(images, uploaded):
        np.testing.assert_array_equal(tensor.cpu().numpy(), image)
    on_gpu = roi_align_crops(uploaded[1], BOXES, (32, 16), "cuda", torch.float32)
    from_host = roi_align_crops(images[1], BOXES, (32, 16), "cuda", torch.float32)
    assert torch.equal(on_gpu, from_host)
    assert frames_device(type("OnGpu", (), {"frames_device": "cuda"})()) == torch.device("cuda", 0)
