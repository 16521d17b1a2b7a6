"""``python -m ranvier_bench``: see :mod:`ranvier_bench.cli`."""

from __future__ import annotations

import sys

from .cli import main

sys.exit(main())
