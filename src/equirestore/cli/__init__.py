"""The ``equirestore`` command line: train restorers and classifiers, evaluate, restore.

Run ``equirestore <command> --help`` for each command's options. Each command lives in
its own module of this package (``train``, ``evaluate``, ``restore_files``, ``theory``),
which also builds its parser; this module puts them together and turns errors into one
line and an exit status (see :data:`EXIT_CODES`).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from equirestore import distributed

#: Exit statuses of every command.
EXIT_CODES = {
    0: "success",
    1: "a negative verdict: not equivariant, not aperiodic, not strict, or below --min-exact",
    2: "bad input or usage: the message says what was wrong and what to do",
    3: "an internal error (a bug: please report it; EQUIRESTORE_DEBUG=1 shows the traceback)",
    130: "interrupted (Ctrl-C); training commands resume when run again",
}


def data_args(p: argparse.ArgumentParser, required: bool = True) -> None:
    """``--dataset``, ``--data-root`` and ``--geometry``, shared by the data commands."""
    from equirestore.data import DATASETS

    p.add_argument(
        "--dataset",
        choices=sorted(DATASETS),
        required=required,
        help="named dataset (searched in --data-root, then $EQUIRESTORE_DATA)",
    )
    p.add_argument("--data-root", default=None, help="folder holding the datasets")
    p.add_argument(
        "--geometry",
        choices=["pad", "resize"],
        default=None,
        help="how 28x28 MNIST becomes 32x32 (default: pad, as the shipped weights)",
    )


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (one sub-parser per command)."""
    from equirestore.cli import evaluate, restore_files, theory, train

    parser = argparse.ArgumentParser(
        prog="equirestore",
        description="Restore translated inputs with strictly translation-equivariant "
        "networks before any classifier sees them.",
        epilog="exit status: " + "; ".join(f"{code} = {what}" for code, what in EXIT_CODES.items()),
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    train.add_parsers(sub, data_args)
    evaluate.add_parser(sub, data_args)
    restore_files.add_parser(sub)
    theory.add_parsers(sub, data_args)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``equirestore`` command."""
    from equirestore.checkpoint import CheckpointError

    args = build_parser().parse_args(argv)
    distributed.init()  # a no-op unless launched by torchrun
    try:
        return int(args.handler(args))
    except KeyboardInterrupt:
        print(f"equirestore {args.command}: interrupted", file=sys.stderr)
        return 130
    except (FileNotFoundError, ValueError, TypeError, CheckpointError, OSError) as e:
        if os.environ.get("EQUIRESTORE_DEBUG"):
            raise
        print(f"equirestore {args.command}: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
