"""Bad and odd word lists, one table, three ways in: the data loader, an upload in the app (AppTest)
and the command line. A refused file gets one friendly line saying what is wrong and where, and
the app keeps working on the default list; an accepted one is read as the README's Data section
says (words kept as written after NFC, a CSV's word column under its header).

The browser test (tests/test_browser.py) sends a few of these through the real file picker.
"""

from __future__ import annotations

import json
import subprocess
import sys
import unicodedata
from dataclasses import dataclass
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from makemore import limits
from makemore.cli import main
from makemore.data import DataError, WordDataset

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "app"))
from registry import STAGES  # noqa: E402

NAMES = ["emma", "olivia", "ava", "isabella", "sophia", "mia", "amelia", "harper", "evelyn", "abigail",
         "ella", "luna"]
DEFAULT_WORDS = "32,033"  # the default list, names.txt, that stands in for a refused upload


def lines(words, end="\n") -> bytes:
    return "".join(w + end for w in words).encode()


@dataclass(frozen=True)
class Upload:
    id: str
    name: str  # the file's name: a .csv or .tsv is read as a table
    content: bytes
    refused: tuple[str, ...] = ()  # what the one-line message says, when the file is refused
    words: tuple[str, ...] = ()  # the words kept, when it is accepted
    note: str = ""  # what the note beside an accepted file says, if it gets one

    def __repr__(self):  # pytest prints this in a failure: the id, not two megabytes
        return f"Upload({self.id})"


DECOMPOSED = [unicodedata.normalize("NFD", w) for w in
              ["zoë", "josé", "renée", "chloé", "françois", "björn", "ağa", "noël", "inès", "léa"]]
EMOJI = ["🐍", "🐍🐍", "👩‍🔬", "🌸emma", "ava🌸", "🦊", "🦊🐍", "mia", "🎉luna", "👍🏽"]  # 👩‍🔬: joined by U+200D

UPLOADS = [
    # refused: what is wrong, and where
    Upload("empty", "empty.txt", b"", refused=("empty.txt", "is empty")),
    Upload("blank lines only", "blank.txt", b"\n  \r\n\n", refused=("blank.txt", "no usable words")),
    Upload("binary", "photo.txt", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)),
           refused=("photo.txt", "binary")),
    Upload("not UTF-8", "latin1.txt", "emma\nolivia\nzoë\n".encode("latin-1"),
           refused=("latin1.txt", "not UTF-8", "line 3")),
    Upload("UTF-16", "utf16.txt", "\n".join(NAMES).encode("utf-16"), refused=("utf16.txt", "UTF-16")),
    Upload("too large", "huge.txt", b"ab\n" * (limits.MAX_FILE_BYTES // 3 + 1),
           refused=("huge.txt", "2,000,001 bytes", "limit is 2,000,000 bytes")),
    Upload("a single word", "one-word.txt", b"emma\n", refused=("one-word.txt", "only 1 word;", "at least 10")),
    Upload("one character", "one-char.txt", b"x", refused=("one-char.txt", "only 1 word;")),
    Upload("word over the length cap", "long.txt", lines(NAMES + ["a" * (limits.MAX_WORD_LEN + 1)]),
           refused=("long.txt", "line 13", "33 characters long", "at most 32")),
    Upload("too many words", "many.txt", b"ab\n" * (limits.MAX_WORDS + 1),
           refused=("many.txt", "more than 50,000 words")),
    Upload("too many characters", "long-words.txt", lines(["abcdefghijklmnopqrstuvwxyz"] * 20_000),
           refused=("long-words.txt", "520,000 characters in all", "500,000")),
    Upload("too many distinct characters", "cjk.txt", lines(chr(0x4E00 + i) * 2 for i in range(65)),
           refused=("cjk.txt", "65 distinct characters", "limit is 64")),
    Upload("control character", "bell.txt", lines(NAMES[:11] + ["bad\x07word"]),
           refused=("bell.txt", "line 12", "control character")),
    Upload("text-direction override", "bidi.txt", lines(NAMES[:11] + ["abc\u202edef"]),
           refused=("bidi.txt", "line 12", "control character")),
    # accepted: kept as written, after Unicode NFC
    Upload("Windows line endings", "crlf.txt", lines(NAMES, "\r\n"), words=tuple(NAMES)),
    Upload("old Mac line endings", "cr.txt", lines(NAMES, "\r"), words=tuple(NAMES)),
    Upload("byte-order mark", "bom.txt", b"\xef\xbb\xbf" + lines(NAMES), words=tuple(NAMES)),
    Upload("upper case", "caps.txt", lines([n.capitalize() for n in NAMES] + ["EMMA"]),
           words=tuple([n.capitalize() for n in NAMES] + ["EMMA"]),
           note="Upper and lower case are different characters here"),
    Upload("accents, decomposed", "accents.txt", lines(DECOMPOSED),
           words=tuple(unicodedata.normalize("NFC", w) for w in DECOMPOSED)),
    Upload("emoji", "emoji.txt", lines(EMOJI), words=tuple(EMOJI)),
    Upload("one character per word", "letters.txt", lines("abcdefghij"), words=tuple("abcdefghij")),
    Upload("one letter only", "aaa.txt", lines(["a", "aa", "aaa"] * 4), words=tuple(["a", "aa", "aaa"] * 4)),
    Upload("CSV with a header", "names.csv",
           b"name,count\r\n" + lines([f"{n},{1000 - i}" for i, n in enumerate(NAMES)], "\r\n"),
           words=tuple(NAMES), note="column 1 (“name”), under a header row, which is skipped"),
    Upload("CSV with the words second", "ranked.csv",
           lines(["rank,name,sex"] + [f"{i},{n},F" for i, n in enumerate(NAMES, 1)]),
           words=tuple(NAMES), note="column 2 (“name”), under a header row"),
    Upload("CSV saved as .txt, no header", "pairs.txt", lines([f"{n},F" for n in NAMES]),
           words=tuple(NAMES), note="the first row did not look like a header"),
    Upload("tab-separated with a header", "names.tsv", lines(["name\tyear"] + [f"{n}\t2015" for n in NAMES]),
           words=tuple(NAMES), note="tab-separated"),
]
REFUSED = [u for u in UPLOADS if u.refused]
ACCEPTED = [u for u in UPLOADS if not u.refused]


def ids(uploads):
    return [u.id for u in uploads]


def test_the_table_covers_both_outcomes():
    assert all(bool(u.refused) != bool(u.words) for u in UPLOADS)
    assert len(set(ids(UPLOADS))) == len(UPLOADS)


# -----------------------------------------------------------------------------------------------
# the loader


@pytest.mark.parametrize("upload", REFUSED, ids=ids(REFUSED))
def test_loader_refuses_with_one_line_saying_what_and_where(upload):
    with pytest.raises(DataError) as error:
        WordDataset.from_bytes(upload.content, upload.name)
    message = str(error.value)
    assert "\n" not in message
    assert all(part in message for part in upload.refused), message


@pytest.mark.parametrize("upload", ACCEPTED, ids=ids(ACCEPTED))
def test_loader_keeps_the_words_as_written(upload):
    dataset = WordDataset.from_bytes(upload.content, upload.name)
    assert tuple(dataset.words) == upload.words
    assert dataset.vocab.chars == tuple(sorted(set("".join(upload.words))))
    assert dataset.vocab.boundary not in "".join(upload.words)
    notes = " ".join(dataset.notes)
    assert upload.note in notes if upload.note else notes == ""


# -----------------------------------------------------------------------------------------------
# the app: an upload in the sidebar


def upload_in_app(upload: Upload) -> AppTest:
    at = AppTest.from_file(str(ROOT / "app" / "Home.py"), default_timeout=120).run()
    at.selectbox(key="dataset_choice").set_value("upload").run()
    at.file_uploader(key="dataset_upload").set_value((upload.name, upload.content, "text/plain")).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def metric(at: AppTest, label: str) -> str:
    return next(m.value for m in at.metric if m.label == label)


@pytest.mark.parametrize("upload", REFUSED, ids=ids(REFUSED))
def test_app_refuses_an_upload_in_words_and_keeps_working(upload):
    at = upload_in_app(upload)
    errors = [e.value for e in at.sidebar.error]
    assert len(errors) == 1 and "can't be used" in errors[0], errors
    assert all(part in errors[0] for part in upload.refused), errors[0]
    assert "Traceback" not in errors[0]
    assert metric(at, "words") == DEFAULT_WORDS  # the default list stands in

    good = lines(NAMES)  # and the next file works
    at.file_uploader(key="dataset_upload").set_value(("good.txt", good, "text/plain")).run()
    assert not at.exception and not at.error
    assert metric(at, "words") == str(len(NAMES))


@pytest.mark.parametrize("upload", ACCEPTED, ids=ids(ACCEPTED))
def test_app_accepts_an_odd_upload_and_every_page_works_on_it(upload):
    at = upload_in_app(upload)
    assert not at.error, [e.value for e in at.error]
    assert metric(at, "words") == f"{len(upload.words):,}"
    assert metric(at, "vocabulary") == str(len(set("".join(upload.words))) + 1)
    notes = [i.value for i in at.sidebar.info]
    assert any(upload.note in n for n in notes) if upload.note else notes == []
    for stage in STAGES:
        at.switch_page(stage.page).run()
        assert not at.exception, (stage.page, [e.value for e in at.exception])
        assert not at.error, (stage.page, [e.value for e in at.error])
        assert at.session_state["dataset"].name == upload.name


# -----------------------------------------------------------------------------------------------
# the command line: exit 2 and one line on stderr, or a model trained on the words as written


@pytest.fixture
def saved(tmp_path):
    def save(upload: Upload) -> str:
        path = tmp_path / upload.name
        path.write_bytes(upload.content)
        return str(path)
    return save


@pytest.mark.parametrize("upload", REFUSED, ids=ids(REFUSED))
def test_cli_refuses_with_exit_2_and_one_line(upload, saved, capsys):
    code = main(["train", "--model", "bigram", "--data", saved(upload), "--json"])
    out, err = capsys.readouterr()
    assert code == 2 and out == ""
    assert len(err.splitlines()) == 1 and err.startswith("makemore: error: "), err
    assert all(part in err for part in upload.refused), err


@pytest.mark.parametrize("upload", ACCEPTED, ids=ids(ACCEPTED))
def test_cli_trains_on_the_words_as_written(upload, saved, capsys):
    code = main(["train", "--model", "bigram", "--data", saved(upload), "--json"])
    out, err = capsys.readouterr()
    assert code == 0 and err == ""
    vocab = len(set("".join(upload.words))) + 1
    assert json.loads(out.splitlines()[-1])["params"] == vocab * vocab  # one count per pair of symbols


def test_cli_process_prints_one_line_and_no_traceback(saved, tmp_path):
    upload = next(u for u in REFUSED if u.id == "not UTF-8")
    run = subprocess.run([sys.executable, "-m", "makemore", "train", "--model", "bigram", "--data",
                          saved(upload)], capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert run.returncode == 2 and run.stdout == ""
    assert run.stderr.splitlines() == [f"makemore: error: {upload.name} is not UTF-8 text: "
                                       "undecodable byte on line 3."]
