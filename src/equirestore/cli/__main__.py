"""``python -m equirestore.cli``: the same as the ``equirestore`` command."""

from equirestore.cli import main

raise SystemExit(main())
