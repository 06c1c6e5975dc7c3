"""The ``rustrnn`` command (also ``python -m rustrnn``).

::

    rustrnn demo sentiment|generate|forecast|g2p|layers
    rustrnn train classify|regress DATA.csv --text-column text --label-column label -o model.rnn
    rustrnn train generate CORPUS.txt -o model.rnn
    rustrnn predict model.rnn "some text" | --input file.csv [-o out.csv]
    rustrnn info model.rnn

A user mistake (a missing file or column, unusable data, a corrupted model
file) ends with one line on stderr and exit status 2, never a traceback
(``RUSTRNN_TRACEBACK=1`` shows one anyway, for bug reports).
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Optional

from .errors import UserError

__all__ = ["main", "UserError"]


def build_parser() -> argparse.ArgumentParser:
    from . import demo, info, predict, train

    parser = argparse.ArgumentParser(prog="rustrnn", description="Fast, exact RNN/LSTM/GRU on the CPU: demos, training and prediction.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="{demo,train,predict,info}")
    demo.add_parser(sub)
    train.add_parser(sub)
    predict.add_parser(sub)
    info.add_parser(sub)
    return parser


def _one_line(e: BaseException) -> str:
    text = str(e) or type(e).__name__
    if isinstance(e, OSError) and e.filename is not None and e.strerror:
        text = f"{e.filename}: {e.strerror}"  # without "[Errno 2]"
    return " ".join(text.split())


def main(argv: Optional[list] = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        result = args.run(args)
        return result if isinstance(result, int) else 0
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader of stdout went away (``| head``): stop quietly.
        try:
            sys.stdout = open(os.devnull, "w")
        except OSError:
            pass
        return 0
    except (UserError, ValueError, TypeError, OSError) as e:
        return _fail(e, _one_line(e))
    except MemoryError as e:  # the built-in and rustrnn's: a size that cannot be allocated
        return _fail(e, f"out of memory: {_one_line(e)}")
    except Exception as e:  # noqa: BLE001 - the command's promise: one line, never a traceback
        return _fail(e, f"{type(e).__name__}: {_one_line(e)}")
    except BaseException as e:  # a native panic (pyo3's PanicException) or a stray SystemExit
        if isinstance(e, SystemExit):
            raise
        return _fail(e, f"internal error in rustrnn (please report it): {_one_line(e)}")


def _fail(e: BaseException, line: str) -> int:
    if os.environ.get("RUSTRNN_TRACEBACK"):
        raise e
    print(f"rustrnn: error: {line}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
