"""``python -m mozdef_client`` runs the ``mozdef-client`` command."""

import sys

from .cli import main

sys.exit(main())
