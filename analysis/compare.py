"""Two runs compared: ``python analysis/compare.py BASELINE CANDIDATE [-o DIR]``.

The same as ``chatload compare``: exit 1 on a regression; see docs/reports.md.

The design card gives the analysis scripts this top-level folder; the code lives in
``chatload.analysis``, and this wrapper keeps the folder's entry point.
"""

import sys

from chatload.cli import main

if __name__ == "__main__":
    sys.exit(main(["compare", *sys.argv[1:]]))
