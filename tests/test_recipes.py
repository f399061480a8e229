"""The promised losses: each later stage's default (its model and fast recipe, as its page and the CLI
train it) reaches the val loss its page and the README state, on the lecture's names.txt. They train
as the app trains them, in background jobs two at a time. (The MLP's and BatchNorm's are in
test_mlp.py and test_mlp_bn.py; the times are bench/stages.py's to print, never asserted.)"""

import pytest

from makemore.serving.jobs import DONE, JobBoard
from makemore.models import MODELS
from makemore.train import TrainConfig
from makemore.runs import Run

pytestmark = pytest.mark.slow

PROMISED = {  # the model -> the val loss its default reaches (measured here: see the README's table)
    "wavenet": 2.00,
    "rnn": 2.07,
    "gru": 2.02,
    "bow": 2.11,
    "transformer": 2.00,
}


@pytest.fixture(scope="module")
def trained(names_dataset):
    board = JobBoard(None, max_running=2, abandoned_after=3600)
    jobs = {name: board.start(names_dataset, Run(name, MODELS[name].config(), TrainConfig(**MODELS[name].train_defaults)))
            for name in PROMISED}
    for job in jobs.values():
        assert job.wait(600), "a default recipe did not finish in 10 minutes"
    return jobs


@pytest.mark.parametrize("name", PROMISED)
def test_each_stages_default_reaches_its_promised_loss_on_the_lecture_names(trained, name):
    job = trained[name]
    assert job.status == DONE, job.error
    assert job.result.val_loss <= PROMISED[name], job.result.val_loss
    assert job.result.train_loss < job.result.val_history[0][1]  # it learned from its first evaluation
