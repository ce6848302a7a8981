"""``python -m tracker``: the ``tracker`` command line."""

import sys

from .commands import main

if __name__ == "__main__":
    sys.exit(main())
