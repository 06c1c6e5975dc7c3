"""Regenerates python/rustrnn/datasets/data/ from the shared data directory.

Every packaged file is the source file byte for byte, xz-compressed, so the
provenance is checkable: ``xz -dc movie_reviews.tsv.xz | sha256sum`` gives the
digest printed here (and listed in data/README.md). Licence files are copied
unchanged.

    python scripts/build_datasets.py [--shared ../shared] [--check]

``--check`` writes nothing: it verifies that the packaged files decompress to
the current sources.
"""

from __future__ import annotations

import argparse
import hashlib
import lzma
import shutil
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "python" / "rustrnn" / "datasets" / "data"

# packaged name -> path under shared/datasets
SOURCES = {
    "movie_reviews.tsv.xz": "sentiment/movie_reviews.tsv",
    "tweets.tsv.xz": "sentiment/tweets.tsv",
    "amazon_reviews.tsv.xz": "sentiment/amazon_reviews.tsv",
    "shakespeare.txt.xz": "text/shakespeare.txt",
    "air_passengers_monthly.csv.xz": "timeseries/air_passengers_monthly.csv",
    "sunspots_yearly.csv.xz": "timeseries/sunspots_yearly.csv",
    "co2_weekly.csv.xz": "timeseries/co2_weekly.csv",
    "cmudict.dict.xz": "g2p/cmudict.dict",
    "glove.6B.50d.top20k.txt.xz": "embeddings/glove.6B.50d.top20k.txt",
}
LICENSES = ["sentiment/LICENSE-vaderSentiment.txt", "g2p/LICENSE-cmudict.txt"]


def compress(data: bytes) -> bytes:
    # Deterministic for a given liblzma: no timestamps or names in the stream.
    return lzma.compress(data, format=lzma.FORMAT_XZ, check=lzma.CHECK_CRC64, preset=9 | lzma.PRESET_EXTREME)


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shared", type=Path, default=REPO.parent / "shared", help="the shared/ directory")
    ap.add_argument("--check", action="store_true", help="verify instead of writing")
    args = ap.parse_args(argv)
    src_dir = args.shared / "datasets"
    OUT.mkdir(parents=True, exist_ok=True)
    failed = False
    total = 0
    print(f"{'file':34} {'lines':>8} {'source bytes':>13} {'packaged':>10}  sha256 of source")
    for name, rel in SOURCES.items():
        data = (src_dir / rel).read_bytes()
        digest = hashlib.sha256(data).hexdigest()
        target = OUT / name
        if args.check:
            ok = target.is_file() and lzma.decompress(target.read_bytes()) == data
            failed |= not ok
            status = "ok" if ok else "DIFFERS"
        else:
            target.write_bytes(compress(data))
            status = ""
        size = target.stat().st_size if target.is_file() else 0
        total += size
        lines = data.count(b"\n")
        print(f"{name:34} {lines:>8} {len(data):>13,} {size:>10,}  {digest} {status}")
    for rel in LICENSES:
        src, target = src_dir / rel, OUT / Path(rel).name
        if args.check:
            ok = target.is_file() and target.read_bytes() == src.read_bytes()
            failed |= not ok
            print(f"{target.name:34} {'ok' if ok else 'DIFFERS'}")
        else:
            shutil.copyfile(src, target)
        total += target.stat().st_size if target.is_file() else 0
    print(f"total packaged bytes (data + licences): {total:,}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
