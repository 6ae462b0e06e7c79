"""``python -m unihm_core`` runs the command line (see :mod:`unihm_core.cli`)."""

import sys

from unihm_core.cli import main

sys.exit(main())
