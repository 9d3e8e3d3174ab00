"""Run the ``lognet`` command line as ``python -m lognet``."""

import sys

from ._cli import main

if __name__ == "__main__":
    sys.exit(main())
