"""Detection: frames to Detections (detectors/) and crops to appearance embeddings (appearance/)."""
