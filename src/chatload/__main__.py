"""``python -m chatload``: the same as the ``chatload`` command."""

import sys

from chatload.cli import main

sys.exit(main())
