"""`python -m dropswap_cli` runs the `dropswap` command."""

import sys

from dropswap_cli.cli import main

sys.exit(main())
