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


def create_tracker(name: str | None = None, *, fps: float, config=None, overrides=None, num_classes: int = 1):
    """A tracker for your own detections, without the pipeline: ``create_tracker("bytetrack", fps=30)``.

    Call ``update(Detections(...))`` once per frame, in order; it returns that frame's
    :class:`Tracks`. name: sort | deepsort | bytetrack | botsort (default: the config's, botsort).
    fps: the frame rate of the frames you feed (motion noise is per second; pass
    ``update(dets, dt=seconds)`` when frames are skipped). config: a :class:`Config`, or a YAML path
    merged with ``overrides`` as in :func:`load_config`.
    Appearance trackers use ``Detections.embeddings`` when given and fall back to motion without them.
    """
    from .tracking import build_tracker  # scipy and the trackers load when first asked for (fast `import tracker`)

    if isinstance(config, Config):
        if name is not None or overrides:
            raise ValueError("pass either a Config or a tracker name / overrides, not both")
        cfg = config
    else:
        cfg = load_config(config, tracker=name, overrides=overrides)
    return build_tracker(cfg.tracker, fps, num_classes)


__all__ = ["Config", "Detections", "FrameResult", "TrackerError", "Tracks", "create_tracker", "load_config", "track"]
