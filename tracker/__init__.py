"""tracker: multi-object tracking in video.

    import tracker
    for result in tracker.track("video.mp4"):
        print(result.frame_index, result.tracks.track_ids)
"""

from .config import Config, load_config
from .errors import TrackerError
from .structures import Detections, FrameResult, Tracks

__version__ = "0.1.0"


def track(source, config=None, **kwargs):
    """Track objects in ``source`` (path, URL, webcam index or MOT folder); yields FrameResult per frame.

    See :func:`tracker.pipeline.track` for the arguments.
    """
    from .pipeline import track as _track

    return _track(source, config=config, **kwargs)


__all__ = ["Config", "Detections", "FrameResult", "TrackerError", "Tracks", "load_config", "track"]
