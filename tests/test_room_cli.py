"""`python -m makemore room create/show/export`: a teacher's class room from the command line, on a
real SQLite file and a real PostgreSQL server (the room_db_url fixture)."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from makemore.cli import main
from makemore.data import WordDataset
from makemore.rooms import PostedRun, RoomStore
from makemore.rooms.words import room_dataset

ROOT = Path(__file__).resolve().parent.parent
NAMES = WordDataset.from_file(ROOT / "data" / "names.txt")


@pytest.fixture
def db(room_db_url, monkeypatch):
    monkeypatch.setenv("MAKEMORE_DB_URL", room_db_url)
    monkeypatch.setenv("MAKEMORE_APP_URL", "https://class.example.org/")
    return room_db_url


def cli(capsys, *argv) -> tuple[int, str, str]:
    status = main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


def created(capsys, title="Lecture 2") -> dict:
    status, out, _ = cli(capsys, "room", "create", "--title", title, "--json")
    assert status == 0 and len(out.splitlines()) == 1
    return json.loads(out)


def a_run(val_loss, params, key, model="mlp", fingerprint=NAMES.fingerprint) -> PostedRun:
    return PostedRun(model, model, key, {"model": model, "config": {}, "training": {}}, fingerprint, val_loss, params,
                     12.5, f"stages/{model}.py?seed={key}")


def test_create_prints_the_code_the_join_link_and_the_teacher_key(db, capsys):
    room = created(capsys)
    assert room["join_url"] == f"https://class.example.org/?room={room['code']}"
    assert room["teacher_key"] and room["teacher_key"] not in room["join_url"]
    store = RoomStore(db)
    try:
        assert store.room(room["code"]).title == "Lecture 2"
        assert store.room(room["code"]).fingerprint == NAMES.fingerprint  # the default list: the lectures' names
        assert store.is_teacher(room["code"], room["teacher_key"])
    finally:
        store.close()
    status, out, _ = cli(capsys, "room", "create", "--title", "Lecture 3")
    assert status == 0 and "?room=" in out and "teacher key" in out


def test_create_on_your_own_list_keeps_its_words_with_the_room(db, capsys, tmp_path):
    words = tmp_path / "pokemon.txt"
    words.write_text("pikachu\nbulbasaur\ncharmander\nsquirtle\neevee\nsnorlax\nmew\npsyduck\njigglypuff\nmeowth\n"
                     "onix\ngeodude\n")
    status, out, _ = cli(capsys, "room", "create", "--title", "Pokémon", "--data", str(words), "--json")
    assert status == 0
    store = RoomStore(db)
    try:
        room = store.room(json.loads(out)["code"])
    finally:
        store.close()
    assert room.dataset == "pokemon.txt" and "snorlax" in room.words
    words.unlink()  # the room still has them
    assert room_dataset(room.dataset, room.fingerprint, room.words).words[0] == "pikachu"


def test_show_lists_members_and_runs_and_export_gives_csv(db, capsys):
    room = created(capsys)
    store = RoomStore(db)
    try:
        ada, bob = store.join(room["code"], "ada"), store.join(room["code"], "bob")
        store.post_run(room["code"], ada.token, a_run(2.1712, 11_897, "a"))
        store.post_run(room["code"], bob.token, a_run(2.4541, 729, "b", model="bigram"))
    finally:
        store.close()
    status, out, _ = cli(capsys, "room", "show", room["code"].lower(), "--json")  # as typed: any case
    shown = json.loads(out)
    assert status == 0 and shown["code"] == room["code"]
    assert [(m["nickname"], m["runs"]) for m in shown["members"]] == [("ada", 1), ("bob", 1)]
    assert [(r["nickname"], r["model"], r["val_loss"], r["params"]) for r in shown["runs"]] == [
        ("bob", "bigram", 2.4541, 729), ("ada", "mlp", 2.1712, 11_897)]  # newest first
    status, out, _ = cli(capsys, "room", "show", room["code"])
    assert status == 0 and "2 members, 2 runs" in out and "'ada'" in out and "2.1712" in out
    status, out, _ = cli(capsys, "room", "export", room["code"])
    rows = list(csv.DictReader(io.StringIO(out)))
    assert status == 0 and [(r["nickname"], r["val_loss"]) for r in rows] == [("ada", "2.1712"), ("bob", "2.4541")]
    assert rows[0]["link"] == "https://class.example.org/mlp?seed=a"  # a full address on MAKEMORE_APP_URL


def test_show_and_export_include_the_rooms_polls(db, capsys):
    room = created(capsys)
    store = RoomStore(db)
    try:
        ada, bob = store.join(room["code"], "ada"), store.join(room["code"], "bob")
        poll = store.open_poll(room["code"], room["teacher_key"], "mlp", "mlp", "k64", {"model": "mlp"},
                               "stages/mlp.py?mlp_hidden=64")
        store.predict(room["code"], ada.token, poll, 2.3)
        store.predict(room["code"], bob.token, poll, 2.05)
        store.poll_result(room["code"], room["teacher_key"], poll, 2.12, 11_897)
        store.open_poll(room["code"], room["teacher_key"], "mlp", "mlp", "k128", {}, "stages/mlp.py?mlp_hidden=128")
    finally:
        store.close()
    status, out, _ = cli(capsys, "room", "show", room["code"], "--json")
    later, done = json.loads(out)["polls"]  # newest first
    assert status == 0 and later["open"] and later["predictions"] == [] and later["result"] is None
    assert [(g["nickname"], g["value"]) for g in done["predictions"]] == [("ada", 2.3), ("bob", 2.05)]
    assert (done["result"], done["params"], done["closest"], done["open"]) == (2.12, 11_897, ["bob"], False)
    status, out, _ = cli(capsys, "room", "show", room["code"])
    assert status == 0 and "2 polls" in out and "result val 2.1200, closest 'bob'" in out
    assert "open for predictions" in out
    status, out, _ = cli(capsys, "room", "export", room["code"], "--polls")
    rows = list(csv.DictReader(io.StringIO(out)))
    assert status == 0 and [(r["nickname"], r["predicted"], r["closest"]) for r in rows] == [
        ("ada", "2.3000", "no"), ("bob", "2.0500", "yes"), ("", "", "")]
    assert rows[0]["link"] == "https://class.example.org/mlp?mlp_hidden=64"


@pytest.mark.parametrize("argv, message", [
    (["room", "show", "ACDEFGHJ"], "No such room."),
    (["room", "export", "not a code at all"], "No such room."),
    (["room", "export", "ACDEFGHJ", "--polls"], "No such room."),
    (["room", "create", "--title", "<script>alert(1)</script>"], "title"),
    (["room", "create", "--title", "   "], "title"),
    (["room", "create", "--title", "x" * 10_000], "title"),
    (["room", "create", "--title", "T", "--data", "/no/such/list.txt"], "does not exist"),
    (["room", "--db", "not-a-url", "show", "ACDEFGHJ"], "not a database URL"),
    (["room", "--db", "postgresql+psycopg://nobody@127.0.0.1:1/rooms", "show", "ACDEFGHJ"], "cannot be used"),
    (["room"], "create,show,export"),
])
def test_bad_input_exits_2_with_one_line(db, capsys, argv, message):
    status, out, err = cli(capsys, *argv)
    assert status == 2 and out == ""
    assert len(err.strip().splitlines()) == 1 and message in err and "Traceback" not in err


def test_the_real_command_prints_one_json_line(db):
    done = subprocess.run([sys.executable, "-m", "makemore", "room", "create", "--title", "From a shell", "--json"],
                          check=False, capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert done.returncode == 0, done.stderr
    room = json.loads(done.stdout)
    assert set(room) >= {"code", "join_url", "teacher_key"}
    done = subprocess.run([sys.executable, "-m", "makemore", "room", "show", room["code"], "--json"],
                          check=False, capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert done.returncode == 0 and json.loads(done.stdout)["runs"] == []
