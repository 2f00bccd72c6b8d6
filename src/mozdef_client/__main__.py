"""``python -m mozdef_client`` runs the ``mozdef-client`` command."""

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
