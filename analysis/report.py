"""The HTML report of a run: ``python analysis/report.py RESULTS -o DIR``.

The same as ``chatload report``; see ``analysis/README.md`` for what it draws.
"""

import sys

from chatload.cli import main

if __name__ == "__main__":
    sys.exit(main(["report", *sys.argv[1:]]))
