"""makemore.serving.checkpoint: one file format for the cache, the CLI and the app's export and import; a
file that is not a usable model is refused with a reason, and is never run."""

import io
import pickle
import zipfile
from dataclasses import asdict

import pytest
import torch

from makemore import limits
from makemore.serving.checkpoint import (FORMAT, Checkpoint, CheckpointError, checkpoint_bytes, load_checkpoint,
                                 read_checkpoint, save_checkpoint)
from makemore.data import WordDataset
from makemore.models import create_model
from makemore.models.mlp import MLPConfig
from makemore.sample import generate
from makemore.train import TrainConfig, train

CONFIG = MLPConfig(n_embd=4, n_hidden=16)
TRAINING = TrainConfig(max_steps=30, batch_size=16, optimizer="adamw", lr=0.01)


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    dataset = WordDataset("tiny.txt", ["emma", "olivia", "ava", "isabella", "sophia", "mia", "amelia", "harper",
                                       "evelyn", "abigail", "emily", "ella"])
    model = create_model("mlp", len(dataset.vocab), CONFIG, seed=TRAINING.seed)
    result = train(model, dataset, TRAINING)
    checkpoint = Checkpoint.of("mlp", model, CONFIG, TRAINING, result, dataset, with_words=True)
    path = tmp_path_factory.mktemp("ckpt") / "run.pt"
    save_checkpoint(path, checkpoint)
    return dataset, model, checkpoint, path


def test_a_saved_model_loads_with_plain_torch_and_weights_only(saved):
    _, _, checkpoint, path = saved
    blob = torch.load(path, weights_only=True)
    assert blob["format"] == FORMAT and blob["model"] == "mlp" and blob["key"] == checkpoint.key
    assert blob["config"] == {"block_size": 3, "n_embd": 4, "n_hidden": 16, "init": "scaled"}
    assert blob["train_config"]["max_steps"] == 30 and blob["result"]["steps"] == 30
    assert set(blob) >= {"vocab", "dataset", "state_dict", "train_words"}


def test_load_gives_back_the_same_model_vocabulary_words_and_samples(saved):
    dataset, model, checkpoint, path = saved
    loaded = load_checkpoint(path)
    assert loaded.vocab == dataset.vocab and loaded.train_words == tuple(dataset.splits["train"])
    assert loaded.model_config == CONFIG and loaded.train_config == TRAINING and loaded.result == checkpoint.result
    rebuilt = loaded.build()
    assert not rebuilt.training
    assert generate(rebuilt, loaded.vocab, num=10, seed=5) == generate(model, dataset.vocab, num=10, seed=5)


def malicious_pickle(path):
    """A .pt whose unpickling would create a file (as any code could run)."""
    target = path.parent / "pwned.txt"

    class Payload:
        def __reduce__(self):
            return (open, (str(target), "w"))

    torch.save({"format": FORMAT, "model": "mlp", "payload": Payload()}, path)
    return target


def test_a_pickle_with_code_in_it_is_refused_and_never_run(tmp_path):
    path = tmp_path / "evil.pt"
    target = malicious_pickle(path)
    with pytest.raises(CheckpointError, match="refused without being run"):
        load_checkpoint(path)
    assert not target.exists()


def test_a_plain_pickle_file_is_refused_without_being_unpickled(tmp_path):
    path = tmp_path / "plain.pkl"
    target = tmp_path / "pwned.txt"
    path.write_bytes(pickle.dumps(open) + b"")  # not a torch archive at all
    with pytest.raises(CheckpointError, match="not a model saved by makemore"):
        load_checkpoint(path)
    assert not target.exists()


def test_a_truncated_file_is_refused(saved, tmp_path):
    raw = saved[3].read_bytes()
    for cut in (len(raw) // 2, len(raw) - 100, 10):
        with pytest.raises(CheckpointError, match="truncated|damaged"):
            read_checkpoint(raw[:cut], "cut.pt")


def edited(saved, **changes) -> bytes:
    blob = saved[2].to_dict()
    blob.update(changes)
    buffer = io.BytesIO()
    torch.save(blob, buffer)
    return buffer.getvalue()


@pytest.mark.parametrize("change, message", [
    (dict(model="gpt-17"), "model 'gpt-17' is not one this version knows"),
    (dict(format=1), "format 1"),
    (dict(config={"block_size": 3, "n_embd": 4, "n_hidden": 16, "init": "scaled", "wings": 2}), "wings"),
    (dict(config={"block_size": 3, "n_embd": 8, "n_hidden": 16, "init": "scaled"}), "weights do not fit"),
    (dict(vocab={"chars": list("abcdefgh"), "boundary": "."}), "weights do not fit"),  # another vocabulary
    (dict(vocab={"chars": ["a", "a"], "boundary": "."}), "vocabulary"),
    (dict(train_config={"max_steps": -3}), "training settings"),
    (dict(result="oops"), "training result"),
    (dict(state_dict={"C": "not a tensor"}), "weights"),
], ids=["unknown model", "old format", "unknown field", "shapes", "other vocabulary", "bad vocabulary",
        "bad training", "bad result", "bad weights"])
def test_a_file_that_does_not_fit_together_is_refused_with_its_reason(saved, change, message):
    with pytest.raises(CheckpointError, match=message):
        read_checkpoint(edited(saved, **change), "edited.pt")


def test_a_foreign_torch_file_is_refused(tmp_path):
    buffer = io.BytesIO()
    torch.save({"weights": torch.zeros(3)}, buffer)
    with pytest.raises(CheckpointError, match="not a model saved by makemore"):
        read_checkpoint(buffer.getvalue())


def test_a_file_over_the_size_limit_is_refused_before_it_is_read(tmp_path, monkeypatch):
    monkeypatch.setattr(limits, "MAX_CHECKPOINT_BYTES", 1000)
    with pytest.raises(CheckpointError, match="at most 1,000"):
        read_checkpoint(b"PK" + b"\0" * 2000)


def test_bytes_and_files_hold_the_same_thing(saved):
    _, _, checkpoint, path = saved
    assert zipfile.is_zipfile(io.BytesIO(checkpoint_bytes(checkpoint)))
    assert read_checkpoint(checkpoint_bytes(checkpoint)).to_dict().keys() == load_checkpoint(path).to_dict().keys()


def test_keep_best_and_the_kept_step_round_trip_and_a_file_from_before_them_still_loads(saved, tmp_path):
    dataset, _, _, _ = saved
    config = TrainConfig(max_steps=30, batch_size=16, optimizer="adamw", lr=0.01, eval_interval=5, keep_best=True)
    model = create_model("mlp", len(dataset.vocab), CONFIG, seed=config.seed)
    result = train(model, dataset, config)
    assert result.kept_step is not None
    checkpoint = Checkpoint.of("mlp", model, CONFIG, config, result, dataset)
    loaded = read_checkpoint(checkpoint_bytes(checkpoint))
    assert loaded.train_config.keep_best and loaded.result.kept_step == result.kept_step
    assert loaded.key == checkpoint.key
    # a file written before the two fields existed
    old = checkpoint.to_dict() | {"train_config": {k: v for k, v in asdict(TRAINING).items() if k != "keep_best"}}
    old["result"] = {k: v for k, v in old["result"].items() if k != "kept_step"}
    old["key"] = Checkpoint.of("mlp", model, CONFIG, TRAINING, result, dataset).key
    buffer = io.BytesIO()
    torch.save(old, buffer)
    loaded = read_checkpoint(buffer.getvalue())
    assert loaded.train_config == TRAINING and loaded.result.kept_step is None and loaded.key == old["key"]
