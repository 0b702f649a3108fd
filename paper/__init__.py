"""The paper's tables and figures, and the comparisons beyond it: one module per report in
``results/``, each run from the repository root as ``python -m paper.<name> ...`` (the
command is written into its report). They import only the public library.

The project's data lies beside the checkout, in ``../shared/data``; it is used unless
``$EQUIRESTORE_DATA`` says otherwise.
"""

import os
from pathlib import Path

_SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"
if _SHARED.is_dir():
    os.environ.setdefault("EQUIRESTORE_DATA", str(_SHARED))
