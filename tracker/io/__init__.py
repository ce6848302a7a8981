"""Input and output: frame sources, output sinks and the file formats they read and write."""
