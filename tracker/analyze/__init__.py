"""Analysis of tracks: line and zone counting, offline smoothing, charts, evaluation against ground truth, tuning."""
