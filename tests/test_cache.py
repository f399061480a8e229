"""makemore.serving.cache: trained models on disk, keyed by everything that determines them, and the one
way to get a trained model (load it, or train it and keep it)."""

import os
import time

import pytest
import torch

import makemore.serving.cache
from makemore.serving.cache import DiskCache, default_cache_dir, load_or_train
from makemore.serving.checkpoint import FORMAT, Checkpoint, cache_key
from makemore.models import create_model
from makemore.models.bigram import BigramCountsConfig, BigramNNConfig
from makemore.train import TrainConfig, TrainResult, train
from makemore.runs import Run

NN_CONFIG = BigramNNConfig()
TRAIN_CONFIG = TrainConfig(max_steps=5, batch_size=8, lr=0.5, eval_interval=2)


def files(folder):
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def trained(dataset, seed=1337, config=TRAIN_CONFIG) -> Checkpoint:
    config = TrainConfig(**{**config.__dict__, "seed": seed})
    model = create_model("bigram-nn", len(dataset.vocab), NN_CONFIG, seed=seed)
    return Checkpoint.of("bigram-nn", model, NN_CONFIG, config, train(model, dataset, config), dataset)


def forbid_training(monkeypatch):
    def no_training(*args, **kwargs):
        raise AssertionError("trained although the cache holds this model")

    monkeypatch.setattr(makemore.serving.cache, "train", no_training)


# -----------------------------------------------------------------------------------------------
# keys and folders


def test_cache_key_is_stable_and_depends_on_every_ingredient():
    key = cache_key("fp", "bigram-nn", NN_CONFIG, TRAIN_CONFIG)
    assert key == cache_key("fp", "bigram-nn", BigramNNConfig(), TrainConfig(**TRAIN_CONFIG.__dict__))
    assert len(key) == 24 and all(c in "0123456789abcdef" for c in key)
    others = [
        cache_key("fp2", "bigram-nn", NN_CONFIG, TRAIN_CONFIG),
        cache_key("fp", "bigram", BigramCountsConfig(), TRAIN_CONFIG),
        cache_key("fp", "bigram-nn", BigramNNConfig(init_scale=0.5), TRAIN_CONFIG),
        cache_key("fp", "bigram-nn", NN_CONFIG, TrainConfig(max_steps=6, batch_size=8, lr=0.5, eval_interval=2)),
        cache_key("fp", "bigram-nn", NN_CONFIG, TrainConfig(max_steps=5, batch_size=8, lr=0.5, eval_interval=2, seed=1)),
    ]
    assert len(set(others)) == len(others) and key not in others


# Computed before keep_best was added: the shipped models in data/models are named by these keys
KEYS_BEFORE_KEEP_BEST = {"TrainConfig()": "5b6ad5fe475951962d5e323f", "mlp fast": "a3d4a98833710e3211603818",
                         "mlp lecture": "1fad549ee55705f5942b8502", "gru fast": "f959530efb0b1be74a067c8c",
                         "transformer lecture": "f9a72b76dfdc564fc6c36f9e"}


def test_fields_added_later_leave_the_keys_of_existing_configs_as_they_were():
    from makemore.models import MODELS

    def key(name, training):
        return cache_key("fp", name, MODELS[name].config(), training)

    keys = {"TrainConfig()": key("mlp", TrainConfig()),
            "mlp fast": key("mlp", TrainConfig(**MODELS["mlp"].train_defaults)),
            "mlp lecture": key("mlp", TrainConfig(**MODELS["mlp"].lecture.train)),
            "gru fast": key("gru", TrainConfig(**MODELS["gru"].train_defaults)),
            "transformer lecture": key("transformer", TrainConfig(**MODELS["transformer"].lecture.train))}
    assert keys == KEYS_BEFORE_KEEP_BEST
    # the new setting, once set, is a run of its own
    assert key("mlp", TrainConfig(keep_best=True)) not in KEYS_BEFORE_KEEP_BEST.values()


def test_cache_folder_comes_from_the_environment(isolated_cache_dir, monkeypatch, tmp_path):
    assert default_cache_dir() == isolated_cache_dir
    assert DiskCache().folder == isolated_cache_dir
    monkeypatch.delenv("MAKEMORE_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert default_cache_dir() == tmp_path / "xdg" / "makemore-playground"


# -----------------------------------------------------------------------------------------------
# save and load


def test_save_then_load_gives_the_same_weights_and_result(tmp_path, tiny_dataset):
    cache = DiskCache(tmp_path / "c")
    checkpoint = trained(tiny_dataset)
    cache.save(checkpoint)
    assert files(cache.folder) == [f"{checkpoint.key}.pt"]
    loaded = cache.load(checkpoint.key)
    assert torch.equal(loaded.state_dict["W"], checkpoint.state_dict["W"])
    assert loaded.result == checkpoint.result and loaded.vocab == tiny_dataset.vocab
    assert isinstance(loaded.result, TrainResult) and loaded.result.val_history == checkpoint.result.val_history
    assert torch.equal(loaded.build().W, checkpoint.build().W)


def test_load_of_an_absent_key_is_a_miss(tmp_path):
    assert DiskCache(tmp_path / "never-made").load("nothing") is None


def test_atomic_write_leaves_no_temporary_files(tmp_path, tiny_dataset):
    cache = DiskCache(tmp_path / "c")
    a, b = trained(tiny_dataset, seed=1), trained(tiny_dataset, seed=2)
    for checkpoint in (a, b, a):
        cache.save(checkpoint)
    assert files(cache.folder) == sorted([f"{a.key}.pt", f"{b.key}.pt"])


def test_a_failed_write_leaves_nothing_behind_and_raises_nothing(tmp_path, tiny_dataset, monkeypatch):
    cache = DiskCache(tmp_path / "c")
    checkpoint = trained(tiny_dataset)

    def half_written(obj, f):
        f.write(b"PK\x03\x04 half a file")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(makemore.serving.checkpoint.torch, "save", half_written)
    cache.save(checkpoint)  # no exception: the result in hand is never lost
    assert files(cache.folder) == []


def test_an_unwritable_folder_is_ignored(tmp_path, tiny_dataset):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    DiskCache(blocker).save(trained(tiny_dataset))  # mkdir fails: OSError, swallowed
    assert blocker.read_text() == "not a folder"


def save_foreign_dict(path, key, good):
    torch.save({"weights": torch.zeros(3)}, path)


def save_tensor(path, key, good):
    torch.save(torch.zeros(3), path)


def save_garbage(path, key, good):
    path.write_bytes(b"\x00\x01 this is not a torch file at all \xff" * 10)


def save_truncated(path, key, good):
    path.write_bytes(good.read_bytes()[: good.stat().st_size // 2])


def save_empty(path, key, good):
    path.write_bytes(b"")


def save_other_key(path, key, good):
    path.write_bytes(good.read_bytes())  # a valid entry, but saved for another key


def save_old_format(path, key, good):
    blob = torch.load(good, weights_only=True)
    torch.save({**blob, "key": key, "format": FORMAT - 1}, path)


BAD_FILES = [save_foreign_dict, save_tensor, save_garbage, save_truncated, save_empty, save_other_key,
             save_old_format]


@pytest.mark.parametrize("make_bad", BAD_FILES, ids=lambda f: f.__name__)
def test_unreadable_file_is_a_miss_and_is_deleted(tmp_path, tiny_dataset, make_bad):
    cache = DiskCache(tmp_path / "c")
    good = trained(tiny_dataset)
    cache.save(good)
    make_bad(cache.path("bad"), "bad", cache.path(good.key))
    assert cache.path("bad").exists()
    assert cache.load("bad") is None
    assert not cache.path("bad").exists()
    assert cache.load(good.key) is not None  # the others stay


# -----------------------------------------------------------------------------------------------
# shipped models: looked up first, read-only


def test_a_shipped_model_is_found_before_the_users_folder_and_never_deleted(tmp_path, tiny_dataset):
    shipped = tmp_path / "shipped"
    DiskCache(shipped, shipped=None).save(trained(tiny_dataset))
    (entry,) = shipped.iterdir()
    cache = DiskCache(tmp_path / "mine", shipped=shipped)
    assert cache.load(entry.stem) is not None and files(cache.folder) == []
    entry.write_bytes(entry.read_bytes()[:100])  # damaged: a miss, but left where it is
    assert cache.load(entry.stem) is None and entry.exists()


def test_shipped_models_can_be_turned_off_by_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("MAKEMORE_SHIPPED_DIR", "")
    assert DiskCache(tmp_path).shipped is None
    monkeypatch.delenv("MAKEMORE_SHIPPED_DIR")
    assert DiskCache(tmp_path).shipped == makemore.serving.cache.SHIPPED_DIR


# -----------------------------------------------------------------------------------------------
# load_or_train


def test_load_or_train_trains_once_then_loads(tmp_path, tiny_dataset, monkeypatch):
    cache = DiskCache(tmp_path / "c")
    m1, r1, hit1 = load_or_train(tiny_dataset, Run("bigram-nn", NN_CONFIG, TRAIN_CONFIG), cache=cache)
    assert hit1 is False and len(files(cache.folder)) == 1
    forbid_training(monkeypatch)
    m2, r2, hit2 = load_or_train(tiny_dataset, Run("bigram-nn", NN_CONFIG, TRAIN_CONFIG), cache=cache)
    assert hit2 is True
    assert torch.equal(m1.W, m2.W) and r1 == r2


def test_load_or_train_with_another_config_is_a_miss(tmp_path, tiny_dataset):
    cache = DiskCache(tmp_path / "c")
    load_or_train(tiny_dataset, Run("bigram-nn", NN_CONFIG, TRAIN_CONFIG), cache=cache)
    other = TrainConfig(max_steps=6, batch_size=8, lr=0.5)
    _, r, hit = load_or_train(tiny_dataset, Run("bigram-nn", NN_CONFIG, other), cache=cache)
    assert hit is False and r.steps == 6
    assert len(files(cache.folder)) == 2


def test_load_or_train_without_a_cache_writes_nothing(isolated_cache_dir, tiny_dataset):
    _, r, hit = load_or_train(tiny_dataset, Run("bigram-nn", NN_CONFIG, TRAIN_CONFIG))
    assert hit is False and r.steps == 5
    assert files(isolated_cache_dir) == []


@pytest.mark.parametrize("make_bad", [save_garbage, save_foreign_dict, save_truncated], ids=lambda f: f.__name__)
def test_load_or_train_retrains_over_a_bad_file(tmp_path, tiny_dataset, monkeypatch, make_bad):
    cache = DiskCache(tmp_path / "c")
    m1, r1, _ = load_or_train(tiny_dataset, Run("bigram-nn", NN_CONFIG, TRAIN_CONFIG), cache=cache)
    key = cache_key(tiny_dataset.fingerprint, "bigram-nn", NN_CONFIG, TRAIN_CONFIG)
    good = tmp_path / "good.pt"
    good.write_bytes(cache.path(key).read_bytes())
    make_bad(cache.path(key), key, good)
    m2, r2, hit = load_or_train(tiny_dataset, Run("bigram-nn", NN_CONFIG, TRAIN_CONFIG), cache=cache)
    assert hit is False
    assert torch.equal(m1.W, m2.W) and r2.loss_history == r1.loss_history  # retrained, same seed
    forbid_training(monkeypatch)
    _, _, hit = load_or_train(tiny_dataset, Run("bigram-nn", NN_CONFIG, TRAIN_CONFIG), cache=cache)
    assert hit is True  # and saved again


def test_load_or_train_retrains_when_saved_weights_no_longer_fit(tmp_path, tiny_dataset):
    cache = DiskCache(tmp_path / "c")
    checkpoint = trained(tiny_dataset, seed=TRAIN_CONFIG.seed)
    checkpoint.state_dict = {"W": torch.zeros(5, 5)}  # as if saved for another vocabulary size
    cache.save(checkpoint)
    model, result, hit = load_or_train(tiny_dataset, Run("bigram-nn", NN_CONFIG, TRAIN_CONFIG), cache=cache)
    assert hit is False
    assert model.W.shape == (len(tiny_dataset.vocab),) * 2 and result.steps == 5


def test_stopped_early_runs_are_not_saved(tmp_path, tiny_dataset):
    cache = DiskCache(tmp_path / "c")
    config = TrainConfig(max_steps=50, batch_size=8, lr=0.5)
    _, r, hit = load_or_train(tiny_dataset, Run("bigram-nn", NN_CONFIG, config), cache=cache,
                              callback=lambda p: p.step == 3)
    assert hit is False and r.stopped_early and r.steps == 3
    assert files(cache.folder) == []


def test_counts_model_round_trips_through_the_cache(tmp_path, tiny_dataset, monkeypatch):
    cache = DiskCache(tmp_path / "c")
    config = TrainConfig(max_steps=0)
    m1, r1, _ = load_or_train(tiny_dataset, Run("bigram", BigramCountsConfig(0.5), config), cache=cache)
    forbid_training(monkeypatch)
    m2, r2, hit = load_or_train(tiny_dataset, Run("bigram", BigramCountsConfig(0.5), config), cache=cache)
    assert hit and torch.equal(m1.counts, m2.counts) and m2.alpha == 0.5 and r1 == r2


# -----------------------------------------------------------------------------------------------
# pruning


def fill(cache, dataset, n):
    """Save n entries, the first the oldest; return their keys."""
    past = time.time() - 1000
    keys = []
    for i in range(n):
        checkpoint = trained(dataset, seed=i)
        cache.save(checkpoint)
        os.utime(cache.path(checkpoint.key), (past + i, past + i))
        keys.append(checkpoint.key)
    return keys


def test_prune_keeps_the_max_files_newest(tmp_path, tiny_dataset):
    cache = DiskCache(tmp_path / "c", max_files=3)
    keys = fill(cache, tiny_dataset, 5)
    assert files(cache.folder) == sorted(f"{k}.pt" for k in keys[2:])


def test_loading_an_entry_keeps_it_from_being_pruned(tmp_path, tiny_dataset):
    cache = DiskCache(tmp_path / "c", max_files=3)
    keys = fill(cache, tiny_dataset, 3)
    assert cache.load(keys[0]) is not None  # the oldest, now the most recently used
    newest = trained(tiny_dataset, seed=99)
    cache.save(newest)
    assert files(cache.folder) == sorted(f"{k}.pt" for k in (keys[0], keys[2], newest.key))
