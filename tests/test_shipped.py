"""The trained models shipped in data/models: exactly the runs makemore.serving.pretrain lists, each still
what the current code would produce for its settings, and each scoring the val loss it recorded.
When one of these fails, rebuild the files with `python -m makemore pretrain` and commit them."""

import math

import pytest
import torch

from makemore import limits
from makemore.serving.cache import SHIPPED_DIR
from makemore.serving.checkpoint import load_checkpoint
from makemore.data import WordDataset
from makemore.models import create_model
from makemore.serving.pretrain import DATA_DIR, MAX_FILE_BYTES, MAX_TOTAL_BYTES, shipped_runs
from makemore.train import evaluate, split_tensors, train

REBUILD = "rebuild them with `python -m makemore pretrain` and commit data/models"
FIRST_STEPS = 3  # steps retrained to check that a file is what the code makes today


@pytest.fixture(scope="module")
def datasets():
    return {path.name: WordDataset.from_file(path) for path in DATA_DIR.glob("*.txt")}


@pytest.fixture(scope="module")
def runs(datasets):
    return {run.key(datasets[run.data]): run for run in shipped_runs()}


def shipped_files():
    return sorted(SHIPPED_DIR.glob("*.pt"))


def test_the_shipped_files_are_exactly_the_runs_pretrain_lists(runs):
    present = {path.stem for path in shipped_files()}
    missing = [f"{run.data} {run.run.model_name} ({run.why})" for key, run in runs.items() if key not in present]
    stale = sorted(present - set(runs))
    assert not missing and not stale, (f"missing: {missing}; no longer produced by the current settings: "
                                       f"{stale}; {REBUILD}")


def test_the_shipped_files_fit_the_repository_limits():
    sizes = {path.name: path.stat().st_size for path in shipped_files()}
    assert sizes, f"no shipped models; {REBUILD}"
    assert max(sizes.values()) <= MAX_FILE_BYTES, max(sizes, key=sizes.get)
    assert sum(sizes.values()) <= MAX_TOTAL_BYTES


@pytest.mark.slow  # retrains and evaluates 54 models (half a minute); the two checks above stay quick
@pytest.mark.parametrize("path", shipped_files(), ids=lambda p: p.stem[:10])
def test_a_shipped_model_is_what_the_current_code_trains_and_scores_what_it_recorded(path, runs, datasets):
    checkpoint = load_checkpoint(path)
    run = runs.get(path.stem)
    assert run is not None, f"{path.name} is not a shipped run any more; {REBUILD}"
    assert (checkpoint.model_name, checkpoint.model_config, checkpoint.train_config) == \
        (run.run.model_name, run.run.model_config, run.run.train_config), REBUILD
    dataset = datasets[run.data]
    assert checkpoint.fingerprint == dataset.fingerprint and checkpoint.vocab == dataset.vocab, REBUILD

    # the first steps of the same run today: the same initial weights, batches and losses
    torch.set_num_threads(limits.TRAINING_THREADS)
    model = create_model(run.run.model_name, len(dataset.vocab), run.run.model_config, seed=run.run.train_config.seed)
    if run.run.train_config.max_steps:
        fresh = train(model, dataset, run.run.train_config, callback=lambda p: p.step >= FIRST_STEPS)
        assert fresh.loss_history == pytest.approx(checkpoint.result.loss_history[:FIRST_STEPS], rel=1e-4), \
            f"{run.data} {run.run.model_name} ({run.why}) trains differently today; {REBUILD}"

    # the shipped weights, evaluated afresh
    shipped = checkpoint.build()
    val = evaluate(shipped, *split_tensors(shipped, dataset, "val"))
    assert math.isfinite(val) and val == pytest.approx(checkpoint.result.val_loss, rel=1e-5), REBUILD
