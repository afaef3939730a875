"""The HTML report of a run: ``python analysis/report.py RESULTS -o DIR``.

The same as ``chatload report``; see docs/reports.md for what it draws.

The design card gives the analysis scripts this top-level folder; the code lives in
``chatload.analysis``, and this wrapper keeps the folder's entry point.
"""

import sys

from chatload.cli import main

if __name__ == "__main__":
    sys.exit(main(["report", *sys.argv[1:]]))
