"""Refresh the vendored region lists from the npm package `idn-area-data`.

    python -m reference.refresh [VERSION]      # default: the latest published version

Runs ``npm pack idn-area-data@VERSION`` in a temporary directory (npm must be installed), copies
``data/provinces.csv``, ``data/regencies.csv`` and ``data/LICENSE.md`` over the files in ``reference/data``,
records the version in ``data/ATTRIBUTION.md`` and prints what changed. Review the diff and run the tests before
committing: a renamed region changes its generated alias, and a code the package retires must get a row in
``region_changes.csv`` (its successor and the day it changed), or old reports naming it stop resolving.
"""

from __future__ import annotations

import csv
import io
import re
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

from reference import DATA

PACKAGE = "idn-area-data"
FILES = ("provinces.csv", "regencies.csv", "LICENSE.md")


def fetch(version: str, into: Path) -> tuple[str, dict[str, bytes]]:
    """(the version packed, {file name: its bytes}) from the package's tarball."""
    out = subprocess.run(["npm", "pack", f"{PACKAGE}@{version}", "--json"], cwd=into, check=True,
                         capture_output=True, text=True).stdout
    tarball = into / re.search(r'"filename":\s*"([^"]+)"', out)[1]
    packed = re.search(r'"version":\s*"([^"]+)"', out)[1]
    with tarfile.open(tarball) as archive:
        return packed, {name: archive.extractfile(f"package/data/{name}").read() for name in FILES}


def codes(data: bytes) -> set[str]:
    return {row["code"] for row in csv.DictReader(io.StringIO(data.decode("utf-8")))}


def main(argv: list[str] | None = None) -> int:
    version = (argv if argv is not None else sys.argv[1:])[0:1] or ["latest"]
    with tempfile.TemporaryDirectory() as tmp:
        packed, files = fetch(version[0], Path(tmp))
    for name, data in files.items():
        old = (DATA / name).read_bytes() if (DATA / name).exists() else b""
        if name.endswith(".csv") and old:
            gone, new = codes(old) - codes(data), codes(data) - codes(old)
            print(f"{name}: {len(codes(data))} codes; retired: {sorted(gone) or 'none'}; new: {sorted(new) or 'none'}")
        (DATA / name).write_bytes(data)
    attribution = DATA / "ATTRIBUTION.md"
    text = re.sub(r"(`idn-area-data`\]\([^)]*\) )\*\*[^*]+\*\*", rf"\g<1>**{packed}**",
                  attribution.read_text(encoding="utf-8"))
    attribution.write_text(text, encoding="utf-8")
    print(f"{PACKAGE} {packed} copied into {DATA}; review `git diff` and run the tests")
    return 0


if __name__ == "__main__":
    sys.exit(main())
