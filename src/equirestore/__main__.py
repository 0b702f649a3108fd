"""``python -m equirestore``: the command-line interface (also for ``torchrun -m``)."""

from equirestore.cli import main

raise SystemExit(main())
