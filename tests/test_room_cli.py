"""`python -m makemore room create | show | export` on a real SQLite file and a real PostgreSQL server."""

from __future__ import annotations

import csv
import io
import json

import pytest

from makemore.cli import main
from makemore.data import WordDataset
from makemore.rooms import PostedRun, RoomStore
from makemore.rooms.words import room_dataset


@pytest.fixture
def db(room_db_url, monkeypatch):
    monkeypatch.setenv("MAKEMORE_DB_URL", room_db_url)
    return room_db_url


def run_cli(capsys, *argv) -> tuple[int, str, str]:
    status = main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


def test_create_prints_one_json_line_with_code_join_link_and_teacher_key(db, capsys):
    status, out, _ = run_cli(capsys, "room", "create", "--title", "Lecture 2", "--json",
                             "--app-url", "https://class.example.org/")
    assert status == 0 and len(out.strip().splitlines()) == 1
    made = json.loads(out)
    assert made["join_url"] == f"https://class.example.org/?room={made['code']}"
    assert made["teacher_key"] and made["teacher_key"] not in made["join_url"]
    store = RoomStore(db)
    assert store.room(made["code"]).title == "Lecture 2" and store.is_teacher(made["code"], made["teacher_key"])
    assert room_dataset(store.room(made["code"])).is_lecture_list  # the default list: the lectures'
    store.close()


def test_show_and_export_list_the_runs_a_room_holds(db, capsys, write_words, tiny_words):
    status, out, _ = run_cli(capsys, "room", "create", "--title", "Upload room", "--json",
                             "--data", str(write_words(tiny_words)))
    code = json.loads(out)["code"]
    store = RoomStore(db)
    room = store.room(code)
    assert room.words is not None and room_dataset(room).words == WordDataset("words.txt", tiny_words).words
    ada = store.join(code, "ada")
    store.post_run(code, ada.token, PostedRun("mlp", "mlp", "k", {"model": "mlp"}, room.fingerprint, 2.25, 11_897,
                                              30.5, "stages/mlp.py?mlp_hidden=64"))
    store.close()
    status, out, _ = run_cli(capsys, "room", "show", code, "--json")
    shown = json.loads(out)
    assert status == 0 and [m["nickname"] for m in shown["members"]] == ["ada"]
    assert [(r["nickname"], r["model"], r["val_loss"], r["params"]) for r in shown["runs"]] == [
        ("ada", "mlp", 2.25, 11_897)]
    status, out, _ = run_cli(capsys, "room", "show", code)
    assert status == 0 and "'ada'" in out and "2.2500" in out
    status, out, _ = run_cli(capsys, "room", "export", code)
    rows = list(csv.DictReader(io.StringIO(out)))
    assert status == 0 and [(r["nickname"], r["val_loss"], r["params"]) for r in rows] == [("ada", "2.2500", "11897")]


@pytest.mark.parametrize("argv, message", [
    (["room", "show", "NOPE1234"], "No such room."),
    (["room", "export", "x" * 5000], "No such room."),
    (["room", "create", "--title", "<script>x</script>"], "may hold"),
    (["room", "create", "--title", "t" * 500], "at most 80"),
    (["room", "create"], "--title"),
])
def test_bad_room_commands_exit_2_with_one_line(db, capsys, argv, message):
    status, out, err = run_cli(capsys, *argv)
    assert status == 2 and out == "" and len(err.strip().splitlines()) == 1 and message in err
