"""Scale out: many sources, long sources and many live streams.

- :mod:`.sourcelist`: the sources a user names (files, globs, list files) and their output folders;
- :mod:`.ledger`: ``batch.csv``, one row per source, which a re-run reads to resume;
- :mod:`.chunks`: one file split into overlapping parts, and the parts' tracks stitched into one run;
- :mod:`.worker`: what a worker does with a job (a source, a part, a stitch), models loaded once;
- :mod:`.executors`: who runs the workers: Ray actors (a local instance or a cluster), or this process;
- :mod:`.batch`: ``tracker batch`` (and ``tracker track --chunks``): jobs, resume, progress, Ctrl-C;
- :mod:`.streams`: ``tracker track --sources``: N live streams through one batched detector.

Ray is optional (``pip install 'tracker[cluster]'``) and imported only by :mod:`.executors`.
"""
