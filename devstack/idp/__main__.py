"""``python -m devstack.idp``: serve the dev IdP (options: ``--help``)."""

import sys

from devstack.idp.process import main

if __name__ == "__main__":
    sys.exit(main())
