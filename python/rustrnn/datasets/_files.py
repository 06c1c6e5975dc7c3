"""The packaged data files: the shared sources byte for byte, xz-compressed
(``scripts/build_datasets.py`` writes them; ``data/README.md`` lists them)."""

from __future__ import annotations

import contextlib
from importlib import resources
from typing import Iterator

_PACKAGE = __package__ or "rustrnn.datasets"


def _resource(name: str):
    return resources.files(_PACKAGE).joinpath("data").joinpath(name)


def read_bytes(name: str) -> bytes:
    """The decompressed bytes of packaged file ``name`` (e.g. ``"tweets.tsv.xz"``)."""
    try:
        import lzma
    except ImportError:  # pragma: no cover - CPython built without liblzma
        raise RuntimeError("rustrnn.datasets needs Python's lzma module (CPython built with liblzma)") from None
    return lzma.decompress(_resource(name).read_bytes())


def read_text(name: str) -> str:
    return read_bytes(name).decode("utf-8")


@contextlib.contextmanager
def path_of(name: str) -> Iterator[str]:
    """A filesystem path to the (still compressed) packaged file."""
    with resources.as_file(_resource(name)) as p:
        yield str(p)

