"""Two runs compared: ``python analysis/compare.py BASELINE CANDIDATE [-o DIR]``.

The same as ``chatload compare``: exit 1 on a regression; see ``analysis/README.md``.
"""

import sys

from chatload.cli import main

if __name__ == "__main__":
    sys.exit(main(["compare", *sys.argv[1:]]))
