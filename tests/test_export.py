"""A trained model moves freely between the app and the command line: the app's export is a file
`python -m makemore sample --load` samples from, a file `train --save` wrote is one the app imports,
the same seed draws the same words everywhere, and the command the app shows trains the same run.
A file that is not a usable model (a pickle with code, a truncated file, another vocabulary) is
refused with its reason, by the app's import and by the CLI, and nothing in it runs."""

import io
import shlex
import sys
from dataclasses import fields
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "app"))
from kit.model_import import check_upload  # noqa: E402  (the app's import check)
from kit.results import Run, command_line  # noqa: E402  (the app's export)

from makemore import cli  # noqa: E402
from makemore.serving.checkpoint import FORMAT, CheckpointError, checkpoint_bytes, load_checkpoint  # noqa: E402
from makemore.data import WordDataset  # noqa: E402
from makemore.models import MODELS, create_model  # noqa: E402
from makemore.models.mlp import MLPConfig  # noqa: E402
from makemore.sample import generate  # noqa: E402
from makemore.train import TrainConfig, train  # noqa: E402
from test_cli import cli as run_cli  # noqa: E402

CONFIG = MLPConfig(block_size=4, n_embd=6, n_hidden=32)
TRAINING = TrainConfig(max_steps=60, batch_size=32, optimizer="adamw", lr=0.01, schedule="cosine")


@pytest.fixture
def words_file(write_words, tiny_words):
    return write_words(tiny_words, "tiny.txt")


@pytest.fixture
def app_run(words_file):
    """A run as the app records it (a page trained it), on the tiny list."""
    dataset = WordDataset.from_file(words_file)
    model = create_model("mlp", len(dataset.vocab), CONFIG, seed=TRAINING.seed)
    result = train(model, dataset, TRAINING)
    return dataset, Run.of("MLP", dataset, "mlp", CONFIG, TRAINING, model, result)


def sampled(capsys, path, seed=7, num=12) -> list[str]:
    code, out, err = run_cli(capsys, "sample", "--load", path, "--num", num, "--sample-seed", seed)
    assert code == 0, err
    return [line.removesuffix("  (new)") for line in out]


def words(samples) -> list[str]:
    return [s.word or "(empty word)" for s in samples]


# --- files move both ways -------------------------------------------------------------------------

def test_an_app_export_loads_with_plain_torch_weights_only(app_run, tmp_path):
    dataset, run = app_run
    path = tmp_path / "export.pt"
    path.write_bytes(checkpoint_bytes(run.checkpoint()))
    blob = torch.load(path, weights_only=True)
    assert blob["format"] == FORMAT and blob["model"] == "mlp" and blob["config"]["block_size"] == 4
    assert blob["vocab"]["chars"] == list(dataset.vocab.chars) and blob["train_config"]["max_steps"] == 60
    assert blob["train_words"] == dataset.splits["train"] and blob["result"]["steps"] == 60
    assert set(blob["state_dict"]) == set(run.model.state_dict())


def test_an_app_export_samples_the_same_words_through_the_cli(app_run, tmp_path, capsys):
    dataset, run = app_run
    path = tmp_path / "export.pt"
    path.write_bytes(checkpoint_bytes(run.checkpoint()))
    in_app = generate(run.model, dataset.vocab, num=12, seed=7, train_words=dataset.splits["train"])
    assert sampled(capsys, path) == words(in_app)


def test_an_app_export_imported_again_samples_the_same_words(app_run):
    dataset, run = app_run
    back = check_upload(checkpoint_bytes(run.checkpoint()), "export.pt", dataset)
    assert back.model_name == "mlp" and back.model_config == CONFIG and back.train_config == TRAINING
    assert back.ident.startswith("file-") and back.page == "imported export.pt"
    assert generate(back.model, back.vocab, num=20, seed=3) == generate(run.model, dataset.vocab, num=20, seed=3)


def test_a_cli_saved_file_imports_into_the_app_and_samples_the_same_words(words_file, tmp_path, capsys):
    path = tmp_path / "run.pt"
    code, _, err = run_cli(capsys, "train", "--model", "mlp", "--data", words_file, "--n-hidden", 32,
                           "--max-steps", 50, "--json", "--save", path)
    assert code == 0, err
    dataset = WordDataset.from_file(words_file)
    run = check_upload(path.read_bytes(), "run.pt", dataset)
    assert run.dataset_name == "tiny.txt" and run.train_words == tuple(dataset.splits["train"])
    assert words(generate(run.model, run.vocab, num=12, seed=7)) == sampled(capsys, path)


def test_the_command_the_app_shows_trains_the_same_model(app_run, words_file, tmp_path, capsys):
    dataset, run = app_run
    command = command_line(run, save=str(tmp_path / "again.pt"))
    argv = shlex.split(command)
    assert argv[:4] == ["python", "-m", "makemore", "train"]
    assert argv[argv.index("--data") + 1] == "tiny.txt"  # the student's own file, by its name
    argv[argv.index("--data") + 1] = str(words_file)  # run here, where the file is
    code, _, err = run_cli(capsys, *argv[3:])
    assert code == 0, err
    again = load_checkpoint(tmp_path / "again.pt")
    assert again.key == run.checkpoint().key  # the same configs and list: the same cache entry
    for name, tensor in run.model.state_dict().items():
        assert torch.equal(again.state_dict[name], tensor), name


# --- the command line of a run ----------------------------------------------------------------------

def reparsed(command: str):
    argv = shlex.split(command)[3:]
    args = cli.build_parser(argv[argv.index("--model") + 1]).parse_args(argv)
    return cli.configs_from_args(args)


def every_recipe():
    for name, spec in MODELS.items():
        yield name, spec.config(), TrainConfig(**spec.train_defaults)
        for preset in spec.presets.values():
            yield name, preset.config, TrainConfig(**{**spec.train_defaults, **preset.train})
        if spec.lecture is not None:
            yield name, spec.config(**spec.lecture.model), TrainConfig(**spec.lecture.train)


@pytest.mark.parametrize("name, model_config, train_config", list(every_recipe()))
def test_the_command_line_of_every_registered_recipe_builds_the_same_configs(name, model_config, train_config):
    command = cli.train_command_line(name, model_config, train_config, "data/names.txt")
    assert reparsed(command) == (model_config, train_config)


def test_the_command_line_says_only_what_differs_and_reads_back_every_kind_of_setting():
    spec = MODELS["mlp-bn"]
    assert cli.train_command_line("mlp-bn", spec.config(), TrainConfig(**spec.train_defaults), "w.txt") == \
        "python -m makemore train --model mlp-bn --data w.txt"
    config = spec.config(n_layers=3, batchnorm=False, init="fan-in", out_scale=0.1)
    training = TrainConfig(**{**spec.train_defaults, "lr": 0.003, "weight_decay": 1e-05, "warmup": 10,
                              "optimizer": "sgd", "seed": 42})
    command = cli.train_command_line("mlp-bn", config, training, "my words.txt", save="run.pt")
    assert "--no-batchnorm" in command and "'my words.txt'" in command and command.endswith("--save run.pt")
    assert reparsed(command) == (config, training)


def test_every_training_setting_has_a_command_line_option():
    assert {f.name for f in fields(TrainConfig)} == set(cli.TRAIN_OPTIONS)


# --- refused files: the app's import and the CLI say why, and run nothing --------------------------

def pickle_that_creates(target: Path) -> bytes:
    """A torch file whose unpickling would create `target` (as any code could run)."""

    class Payload:
        def __reduce__(self):
            return (open, (str(target), "w"))

    buffer = io.BytesIO()
    torch.save({"format": FORMAT, "model": "mlp", "state_dict": {"C": Payload()}}, buffer)
    return buffer.getvalue()


def test_a_pickle_with_code_is_refused_by_the_import_and_the_cli_and_creates_no_file(words_file, tmp_path,
                                                                                       capsys):
    target = tmp_path / "pwned.txt"
    raw = pickle_that_creates(target)
    dataset = WordDataset.from_file(words_file)
    with pytest.raises(CheckpointError, match="refused without being run"):
        check_upload(raw, "evil.pt", dataset)
    path = tmp_path / "evil.pt"
    path.write_bytes(raw)
    code, out, err = run_cli(capsys, "sample", "--load", path)
    assert code == 2 and out == [] and len(err) == 1 and "refused without being run" in err[0]
    assert not target.exists()


def test_a_truncated_file_is_refused_by_the_import_and_the_cli(app_run, tmp_path, capsys):
    dataset, run = app_run
    raw = checkpoint_bytes(run.checkpoint())
    for cut in (len(raw) // 2, len(raw) - 200):
        with pytest.raises(CheckpointError, match="truncated|damaged"):
            check_upload(raw[:cut], "cut.pt", dataset)
        path = tmp_path / "cut.pt"
        path.write_bytes(raw[:cut])
        code, out, err = run_cli(capsys, "sample", "--load", path)
        assert code == 2 and out == [] and len(err) == 1 and ("truncated" in err[0] or "damaged" in err[0])


def test_a_model_of_another_vocabulary_is_refused_naming_its_list(app_run):
    _, run = app_run
    cities = WordDataset("cities.txt", ["paris", "lyon", "nice", "lille", "nantes", "rennes", "brest", "metz",
                                        "reims", "le-havre", "saint-malo", "dijon"])
    with pytest.raises(CheckpointError) as refused:
        check_upload(checkpoint_bytes(run.checkpoint()), "mine.pt", cities)
    message = str(refused.value)
    assert "trained on tiny.txt" in message and "Pick tiny.txt in the sidebar" in message
    assert "cities.txt" in message
