"""Checks the repository's copies against the project's ``shared/`` sources they were made from.

Not part of the test suite (``tests/`` reads nothing outside the repository): run it by hand after
regenerating the PyTorch fixtures or rebuilding the data sets.

    python scripts/check_against_shared.py [SHARED_DIR]      (default: $RUSTRNN_SHARED or ../shared)

Checks that ``tests/fixtures/torch_rnn/*.npz`` equal ``SHARED_DIR/fixtures/torch_rnn/*.npz`` byte for
byte, and that every packaged data set decompresses to its ``SHARED_DIR/datasets`` source (licences
included). Exits 1 and names the file on the first difference.
"""

import hashlib
import importlib.util
import lzma
import os
import pathlib
import sys
from importlib import resources

REPO_ROOT = pathlib.Path(__file__).resolve().parent.parent


def build_script():
    spec = importlib.util.spec_from_file_location("build_datasets", REPO_ROOT / "scripts" / "build_datasets.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def check_fixtures(shared: pathlib.Path) -> list:
    ours_dir, src = REPO_ROOT / "tests" / "fixtures" / "torch_rnn", shared / "fixtures" / "torch_rnn"
    ours = sorted(p.name for p in ours_dir.glob("*.npz"))
    theirs = sorted(p.name for p in src.glob("*.npz"))
    if ours != theirs:
        return [f"fixture names differ: only here {sorted(set(ours) - set(theirs))}, "
                f"only in {src} {sorted(set(theirs) - set(ours))}"]
    return [f"{name}: differs from {src / name}" for name in ours
            if (ours_dir / name).read_bytes() != (src / name).read_bytes()]


def check_datasets(shared: pathlib.Path) -> list:
    src = shared / "datasets"
    data = resources.files("rustrnn.datasets").joinpath("data")
    script = build_script()
    errors = []
    for name, rel in script.SOURCES.items():
        packaged = lzma.decompress(data.joinpath(name).read_bytes())
        if hashlib.sha256(packaged).digest() != hashlib.sha256((src / rel).read_bytes()).digest():
            errors.append(f"{name}: does not decompress to {src / rel}")
    for rel in script.LICENSES:
        if data.joinpath(rel.split("/")[-1]).read_bytes() != (src / rel).read_bytes():
            errors.append(f"{rel}: differs from {src / rel}")
    return errors


def main() -> int:
    default = os.environ.get("RUSTRNN_SHARED") or REPO_ROOT.parent / "shared"
    shared = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else default)
    if not shared.is_dir():
        print(f"check_against_shared: no shared directory at {shared}", file=sys.stderr)
        return 2
    errors = check_fixtures(shared) + check_datasets(shared)
    for e in errors:
        print(f"check_against_shared: {e}", file=sys.stderr)
    if not errors:
        print(f"check_against_shared: the fixtures and data sets equal their sources in {shared}")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
