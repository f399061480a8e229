"""The command line, run in-process through makemore.cli.main (plus one real `python -m makemore`)."""

import json
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import makemore.serving.cache
from makemore.cli import main, parse_args, train_command_line
from makemore.models import MODELS
from makemore.train import TrainConfig
from makemore.runs import Run

REPO = Path(__file__).resolve().parent.parent
SUMMARY_KEYS = {"model", "params", "steps", "seconds", "train_loss", "val_loss", "test_loss"}


def cli(capsys, *argv):
    """(exit code, stdout lines, stderr lines) of `python -m makemore ARGV`, in-process."""
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out.splitlines(), err.splitlines()


def json_summary(capsys, *argv) -> dict:
    code, out, err = cli(capsys, *argv)
    assert code == 0, err
    summary = json.loads(out[-1])
    assert SUMMARY_KEYS <= set(summary)
    return summary


@pytest.fixture
def words_file(write_words, tiny_words):
    return write_words(tiny_words, "tiny.txt")


# -----------------------------------------------------------------------------------------------
# train


def test_train_bigram_json_on_lecture_names(capsys, names_path):
    code, out, err = cli(capsys, "train", "--model", "bigram", "--data", names_path, "--json")
    assert code == 0 and err == []
    assert len(out) == 1  # --json: nothing but the summary
    s = json.loads(out[-1])
    assert SUMMARY_KEYS <= set(s)
    assert s["model"] == "bigram" and s["params"] == 27 * 27 and s["steps"] == 0
    assert s["val_loss"] <= 2.47
    assert s["train_loss"] == pytest.approx(2.455, abs=0.005)
    assert s["seconds"] >= 0 and s["config"] == {"alpha": 1.0}


def test_train_bigram_nn_json_is_within_002_of_the_counts(capsys, monkeypatch, names_path, trained_bigrams,
                                                           names_cache_dir):
    # The session fixture trained bigram-nn with its default settings through the disk cache; the CLI
    # with --cache and the same defaults must find that very model (so this test costs no training).
    monkeypatch.setenv("MAKEMORE_CACHE_DIR", str(names_cache_dir))

    def no_training(*args, **kwargs):
        raise AssertionError("the CLI's bigram-nn settings differ from MODELS['bigram-nn'].train_defaults")

    counts = json_summary(capsys, "train", "--model", "bigram", "--data", names_path, "--json")
    monkeypatch.setattr(makemore.serving.cache, "train", no_training)
    net = json_summary(capsys, "train", "--model", "bigram-nn", "--data", names_path, "--json", "--cache")
    assert net["steps"] == MODELS["bigram-nn"].train_defaults["max_steps"]
    assert net["params"] == 27 * 27
    assert abs(net["val_loss"] - counts["val_loss"]) <= 0.02
    assert net["val_loss"] == pytest.approx(trained_bigrams["bigram-nn"][1].val_loss)
    assert net["train_config"] == {**net["train_config"], **MODELS["bigram-nn"].train_defaults}


def test_train_without_json_prints_progress_and_a_summary(capsys, words_file):
    code, out, err = cli(capsys, "train", "--model", "bigram-nn", "--data", words_file, "--max-steps", 20,
                         "--batch-size", 0, "--lr", 1, "--eval-interval", 5)
    assert code == 0 and err == []
    steps = [line for line in out if line.startswith("step")]
    assert len(steps) == 10  # every max_steps // 10 steps
    assert steps[0].split()[1] == "2/20" and steps[-1].split()[1] == "20/20"
    # validation runs at steps 5, 10, 15, 20; of those, 10 and 20 are printed
    assert ["val" in line for line in steps] == [False] * 4 + [True] + [False] * 4 + [True]
    assert out[-1].startswith("bigram-nn: ") and "20 steps" in out[-1] and "val" in out[-1]


def test_train_options_and_model_options_reach_the_configs(capsys, words_file):
    s = json_summary(capsys, "train", "--model", "bigram", "--data", words_file, "--json", "--alpha", "0.5")
    assert s["config"] == {"alpha": 0.5}
    s = json_summary(capsys, "train", "--model", "bigram-nn", "--data", words_file, "--json",
                     "--init-scale", "0.1", "--max-steps", "7", "--batch-size", "4", "--optimizer", "sgd",
                     "--lr", "2", "--schedule", "cosine", "--weight-decay", "0.01", "--seed", "9",
                     "--device", "cpu", "--eval-interval", "3")
    assert s["config"] == {"init_scale": 0.1}
    assert s["train_config"] == {**TrainConfig().__dict__, "max_steps": 7, "batch_size": 4, "optimizer": "sgd",
                                 "lr": 2.0, "schedule": "cosine", "weight_decay": 0.01, "seed": 9,
                                 "eval_interval": 3, "device": "cpu"}
    assert s["steps"] == 7 and s["device"] == "cpu"


def test_keep_best_reaches_the_config_and_the_summary_names_the_kept_step(capsys, words_file):
    options = ["train", "--model", "mlp", "--data", words_file, "--max-steps", "60", "--eval-interval", "10",
               "--n-hidden", "16"]
    s = json_summary(capsys, *options, "--keep-best", "--json")
    assert s["train_config"]["keep_best"] is True and s["kept_step"] in range(10, 61, 10)
    assert json_summary(capsys, *options, "--no-keep-best", "--json")["kept_step"] is None
    code, out, _ = cli(capsys, *options, "--keep-best")
    assert code == 0 and f"(the weights of step {s['kept_step']}, the best val)" in out[-1]
    command = train_command_line("mlp", MODELS["mlp"].config(),
                                 TrainConfig(**{**MODELS["mlp"].train_defaults, "keep_best": True}), "w.txt")
    assert command == "python -m makemore train --model mlp --data w.txt --keep-best"


def test_train_json_reports_infinite_loss_as_null(capsys, write_words):
    # alpha 0 and a validation/test pair never seen in training: the NLL is infinite, JSON has no inf
    words = [f"{c}{c}" for c in "abcdefghij"] + ["ab", "ba"]
    s = json_summary(capsys, "train", "--model", "bigram", "--data", write_words(words), "--json",
                     "--alpha", "0")
    assert None in (s["val_loss"], s["test_loss"])


# -----------------------------------------------------------------------------------------------
# bad input: exit code 2 and one line on stderr


@pytest.fixture
def bad_files(write_words):
    return {
        "missing": str(write_words([], "x.txt").parent / "no-such-file.txt"),
        "empty": str(write_words(b"", "empty.txt")),
        "binary": str(write_words(b"\x7fELF\x02\x01\x01\x00\x00\x00" + bytes(range(256)), "a.out")),
        "latin1": str(write_words("\n".join(["anna", "bob", "zoë"] * 4).encode("latin-1"), "latin.txt")),
        "few": str(write_words(["anna", "bob"], "few.txt")),
        "words": str(write_words([f"w{c}" for c in "abcdefghij"], "ok.txt")),
    }


BAD_INPUT = [  # (argv, what the one line must say)
    ("train --model bigram --data {missing}", ["no-such-file.txt", "does not exist"]),
    ("train --model bigram --data {empty}", ["empty.txt", "is empty"]),
    ("train --model bigram --data {binary}", ["a.out", "binary"]),
    ("train --model bigram --data {latin1}", ["latin.txt", "not UTF-8", "line 3"]),
    ("train --model bigram --data {few}", ["few.txt", "only 2 words"]),
    ("train --model nope --data {words}", ["unknown model 'nope'", "bigram-nn"]),
    ("train --model bigram-nn --data {words} --lr abc", ["--lr", "must be a number", "abc"]),
    ("train --model bigram-nn --data {words} --lr 0", ["--lr", "above 0"]),
    ("train --model bigram-nn --data {words} --lr 1e9", ["--lr", "between 0 and 100", "1e9"]),
    ("train --model bigram-nn --data {words} --lr nan", ["--lr", "between 0 and 100", "nan"]),
    ("train --model bigram-nn --data {words} --max-steps -1", ["--max-steps", "between 0 and 200000", "-1"]),
    ("train --model bigram-nn --data {words} --max-steps 2.5", ["--max-steps", "integer", "2.5"]),
    ("train --model bigram-nn --data {words} --batch-size 1000000000",
     ["--batch-size", "between 0 and 65536", "1000000000"]),
    ("train --model bigram --data {words} --bogus", ["unrecognized arguments", "--bogus"]),
    ("train --model bigram --data {words} --alpha 101", ["--alpha", "between 0 and 10", "101"]),
    ("train --model bigram --data {words} --alpha -1", ["--alpha", "between 0 and 10", "-1"]),
    ("train --model bigram-nn --data {words} --alpha 1", ["unrecognized arguments", "--alpha"]),
    ("train --model bigram --data {words} --optimizer adam", ["--optimizer", "invalid choice", "adam"]),
    ("train --model mlp --data {words} --keep-best=yes", ["--keep-best", "ignored explicit argument", "yes"]),
    ("train --data {words}", ["required", "--model"]),
    ("", ["required", "command"]),
    ("sample --num 5", ["sample needs --load", "--model"]),
    ("sample --model bigram --data {words} --num 0", ["--num", "between 1 and 200"]),
    ("sample --model bigram --data {words} --temperature 0", ["--temperature", "between"]),
    ("sample --load {missing}", ["no-such-file.txt", "does not exist"]),
]


@pytest.mark.parametrize("argv, message", BAD_INPUT, ids=[a or "nothing" for a, _ in BAD_INPUT])
def test_bad_input_exits_2_with_one_line_saying_what_is_wrong(capsys, bad_files, argv, message):
    code, out, err = cli(capsys, *argv.format(**bad_files).split())
    assert code == 2
    assert len(err) == 1, err
    assert err[0].startswith("makemore: error: ")
    assert all(part in err[0] for part in message), (message, err[0])
    assert "Traceback" not in err[0]
    assert out == []


def test_cuda_when_unavailable_exits_2(capsys, monkeypatch, words_file):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    code, out, err = cli(capsys, "train", "--model", "bigram", "--data", words_file, "--device", "cuda")
    assert code == 2 and len(err) == 1 and "no CUDA GPU" in err[0]


def test_save_to_a_missing_folder_exits_2_with_one_line(capsys, tmp_path, words_file):
    target = tmp_path / "no-such-folder" / "model.pt"
    try:
        code = main(["train", "--model", "bigram", "--data", str(words_file), "--save", str(target)])
    except Exception as e:  # noqa: BLE001 - the point: nothing may escape main()
        pytest.fail(f"BUG: `train --save` into a missing folder escapes main() as {type(e).__name__}: "
                    f"{e} (a traceback and exit status 1 from `python -m makemore`), "
                    "instead of exit status 2 and one line")
    err = capsys.readouterr().err.splitlines()
    assert code == 2 and len(err) == 1 and "model.pt" in err[0]


def test_help_exits_0_and_lists_the_commands(capsys):
    with pytest.raises(SystemExit) as e:
        main(["--help"])
    assert e.value.code == 0
    out = capsys.readouterr().out
    assert "train" in out and "sample" in out and "models" in out


# -----------------------------------------------------------------------------------------------
# save, load, sample, models


def sample_lines(capsys, *argv):
    code, out, err = cli(capsys, "sample", *argv)
    assert code == 0 and err == []
    return out


def test_train_save_then_sample_load_prints_deterministic_words(capsys, tmp_path, names_path, names_dataset):
    path = tmp_path / "bigram.pt"
    code, _, err = cli(capsys, "train", "--model", "bigram", "--data", names_path, "--save", path, "--json")
    assert code == 0 and err == [] and path.is_file()
    first = sample_lines(capsys, "--load", path, "--num", 5, "--sample-seed", 3)
    assert len(first) == 5
    again = sample_lines(capsys, "--load", path, "--num", 5, "--sample-seed", 3)
    assert again == first
    assert sample_lines(capsys, "--load", path, "--num", 5, "--sample-seed", 4) != first
    train_set = set(names_dataset.splits["train"])
    for line in first:
        word = line.removesuffix("  (new)")
        assert set(word) <= set("abcdefghijklmnopqrstuvwxyz")
        assert line.endswith("  (new)") == (word not in train_set)


def test_sample_load_of_a_neural_model(capsys, tmp_path, words_file):
    path = tmp_path / "nn.pt"
    code, _, _ = cli(capsys, "train", "--model", "bigram-nn", "--data", words_file, "--max-steps", 5,
                     "--save", path, "--json")
    assert code == 0
    lines = sample_lines(capsys, "--load", path, "--num", 7, "--top-k", 3, "--temperature", 0.5)
    assert len(lines) == 7


@pytest.mark.parametrize("content", ["text", "foreign torch file", "truncated model"])
def test_sample_load_of_a_non_checkpoint_exits_2_with_one_line(capsys, tmp_path, words_file, content):
    path = tmp_path / "not-a-model.pt"
    if content == "text":
        path.write_text("anna\nbob\n")
    elif content == "foreign torch file":
        torch.save({"weights": torch.zeros(3)}, path)
    else:
        assert cli(capsys, "train", "--model", "bigram", "--data", words_file, "--save", path)[0] == 0
        path.write_bytes(path.read_bytes()[:-200])
    code, out, err = cli(capsys, "sample", "--load", path)
    assert code == 2 and out == []
    assert len(err) == 1 and "not-a-model.pt" in err[0]
    assert ("not a model saved by makemore" in err[0]) or ("truncated" in err[0])


def test_a_file_from_the_model_cache_loads_with_sample_load(capsys, tmp_path, words_file, tiny_dataset):
    cache = makemore.serving.cache.DiskCache(tmp_path / "c")
    makemore.serving.cache.load_or_train(tiny_dataset, Run("bigram-nn", MODELS["bigram-nn"].config(),
                                 TrainConfig(max_steps=5, batch_size=8, lr=0.5)), cache=cache)
    (entry,) = cache.folder.glob("*.pt")
    code, out, err = cli(capsys, "sample", "--load", entry, "--num", 4, "--sample-seed", 2)
    assert code == 0 and len(out) == 4
    assert err == ["(this file does not hold its training words: samples are not marked new)"]


def test_a_file_from_train_save_is_a_valid_cache_entry(capsys, tmp_path, words_file, tiny_dataset, monkeypatch):
    path = tmp_path / "run.pt"
    assert cli(capsys, "train", "--model", "bigram-nn", "--data", words_file, "--max-steps", 5, "--save", path)[0] == 0
    cache = makemore.serving.cache.DiskCache(tmp_path / "c")
    cache.folder.mkdir()
    key = makemore.serving.cache.cache_key(tiny_dataset.fingerprint, "bigram-nn", MODELS["bigram-nn"].config(),
                                   TrainConfig(**{**MODELS["bigram-nn"].train_defaults, "max_steps": 5}))
    (cache.folder / f"{key}.pt").write_bytes(path.read_bytes())
    monkeypatch.setattr(makemore.serving.cache, "train", lambda *a, **k: pytest.fail("trained although cached"))
    _, result, from_cache = makemore.serving.cache.load_or_train(
        tiny_dataset, Run("bigram-nn", MODELS["bigram-nn"].config(),
        TrainConfig(**{**MODELS["bigram-nn"].train_defaults, "max_steps": 5})), cache=cache)
    assert from_cache and result.steps == 5


def test_train_with_cache_writes_the_entry_the_same_settings_find(capsys, tmp_path, words_file, tiny_dataset,
                                                                  isolated_cache_dir):
    assert cli(capsys, "train", "--model", "mlp", "--data", words_file, "--max-steps", 50, "--cache")[0] == 0
    (entry,) = isolated_cache_dir.glob("*.pt")
    # the app builds its TrainConfig from the same defaults, with no evaluation cadence of its own
    config = TrainConfig(**{**MODELS["mlp"].train_defaults, "max_steps": 50})
    assert entry.stem == makemore.serving.cache.cache_key(tiny_dataset.fingerprint, "mlp", MODELS["mlp"].config(), config)


def test_sample_with_a_model_trains_first(capsys, words_file, tiny_words):
    lines = sample_lines(capsys, "--model", "bigram", "--data", words_file, "--num", 12, "--sample-seed", 1)
    assert len(lines) == 12
    assert all(set(line.removesuffix("  (new)")) <= set("".join(tiny_words)) for line in lines)


def test_models_lists_both_bigrams(capsys):
    code, out, err = cli(capsys, "models")
    assert code == 0 and err == []
    names = [line.split()[0] for line in out]
    assert names == list(MODELS) and {"bigram", "bigram-nn"} <= set(names)
    assert "lecture 1" in out[0]


# -----------------------------------------------------------------------------------------------
# the real entry point


def test_python_dash_m_makemore_runs_and_exits_with_the_right_status(tmp_path, names_path):
    ok = subprocess.run([sys.executable, "-m", "makemore", "train", "--model", "bigram", "--data",
                         str(names_path), "--json"], capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert ok.returncode == 0, ok.stderr
    summary = json.loads(ok.stdout.splitlines()[-1])
    assert SUMMARY_KEYS <= set(summary) and summary["val_loss"] <= 2.47
    bad = subprocess.run([sys.executable, "-m", "makemore", "train", "--model", "bigram", "--lr", "abc"],
                         capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert bad.returncode == 2
    err = bad.stderr.splitlines()
    assert len(err) == 1 and err[0].startswith("makemore: error: ") and "--lr" in err[0] and "abc" in err[0]
    assert bad.stdout == ""


@pytest.mark.parametrize("argv, words", [
    ("train --model transformer --n-head 5", ["5 heads do not divide the embedding size 48"]),
    ("train --model transformer --n-layer 7", ["--n-layer", "between 1 and 6"]),
    ("train --model wavenet --context 5", ["--context", "invalid choice", "3, 8, 16"]),
    ("train --model wavenet --context 3", ["context"]),  # a tree needs 8 or 16
    ("train --model gru --n-layers 3", ["--n-layers", "between 1 and 2"]),
    ("train --model rnn --n-embd 65", ["--n-embd", "between 2 and 64"]),
], ids=["heads", "blocks", "context", "tree at 3", "gru layers", "rnn embedding"])
def test_the_new_stages_options_are_checked_in_one_line(capsys, words_file, argv, words):
    code, out, err = cli(capsys, *argv.split(), "--data", words_file, "--max-steps", 1)
    assert code == 2 and out == [] and len(err) == 1 and err[0].startswith("makemore: error: ")
    assert all(w in err[0] for w in words), err[0]


@pytest.mark.parametrize("model", ["wavenet", "rnn", "gru", "bow", "transformer"])
def test_every_new_model_trains_saves_and_samples_from_the_command_line(capsys, tmp_path, words_file, model):
    path = tmp_path / f"{model}.pt"
    s = json_summary(capsys, "train", "--model", model, "--data", words_file, "--max-steps", 20, "--batch-size", 8,
                     "--save", path, "--json")
    assert s["steps"] == 20 and s["val_loss"] is not None and path.is_file()
    assert len(sample_lines(capsys, "--load", path, "--num", 5)) == 5


# -----------------------------------------------------------------------------------------------
# the README's examples


def readme_commands() -> list[list[str]]:
    """Every `python -m makemore ...` line of README.md as argv (continued lines joined, comments and
    a redirection of the output cut)."""
    text = (REPO / "README.md").read_text(encoding="utf-8").replace("\\\n", " ")
    commands = [shlex.split(line.split("python -m makemore", 1)[1], comments=True)
                for line in text.splitlines() if line.strip().startswith("python -m makemore")]
    return [argv[: argv.index(">")] if ">" in argv else argv for argv in commands]


def in_repository(path: str) -> bool:
    """A file of a fresh clone, named relative to its root (where the README's commands run)."""
    full = (REPO / path).resolve()
    return full.is_relative_to(REPO) and full.is_file()


def test_every_command_of_the_readme_parses_and_reads_only_files_of_the_repository():
    commands = readme_commands()
    assert len(commands) >= 10 and ["models"] in commands
    saved = set()  # a file an earlier command writes (--save) is there for a later one (--load)
    for argv in commands:
        args = parse_args(argv)  # raises UsageError for an unknown option or a bad value
        if "--data" in argv:
            assert in_repository(args.data), f"{' '.join(argv)}: no {args.data} in the repository"
        if getattr(args, "load", None):
            assert args.load in saved or in_repository(args.load), f"{' '.join(argv)}: nothing writes {args.load}"
        if getattr(args, "save", None):
            saved.add(args.save)
