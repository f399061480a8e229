"""The MLP of lecture 2: shapes, parameter count, initialisation, reproducible training, the
learning-rate finder and the embedding projection (its background jobs: tests/test_jobs.py)."""

import json
import math
import sys
from pathlib import Path

import pytest
import torch

from makemore.cli import main
from makemore.data import WordDataset
from makemore.lr_finder import lr_sweep, suggest
from makemore.models import count_params, create_model, param_count
from makemore.estimate.mlp import estimate_seconds
from makemore.models.mlp import MLPConfig, nearest, project_2d
from makemore.train import TrainConfig, train

from conftest import TINY_WORDS

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "app"))
from kit.urlstate import Setting, parse_query  # noqa: E402


@pytest.fixture(scope="module")
def tiny():
    return WordDataset("tiny", TINY_WORDS)


@pytest.fixture(scope="module")
def names(names_dataset):
    return names_dataset


@pytest.mark.parametrize("config", [MLPConfig(), MLPConfig(block_size=1, n_embd=2, n_hidden=16),
                                    MLPConfig(block_size=10, n_embd=32, n_hidden=512, init="naive")])
def test_logits_shape_and_parameter_formula(config):
    model = create_model("mlp", 27, config)
    idx = torch.randint(0, 27, (5, config.block_size))
    logits, loss = model(idx)
    assert logits.shape == (5, 27) and loss is None
    assert model.block_size == config.block_size
    assert count_params(model) == param_count("mlp", 27, config)
    # the lecture's network: 27*10 + (30+1)*200 + (200+1)*27 = 11,897
    assert param_count("mlp", 27, MLPConfig()) == 11_897  # the lecture's count


def test_scaled_init_starts_near_uniform_and_naive_far_above():
    idx = torch.randint(0, 27, (2000, 3), generator=torch.Generator().manual_seed(0))
    targets = torch.randint(0, 27, (2000,), generator=torch.Generator().manual_seed(1))
    _, scaled = create_model("mlp", 27, MLPConfig(init="scaled"))(idx, targets)
    _, naive = create_model("mlp", 27, MLPConfig(init="naive"))(idx, targets)
    assert abs(scaled.item() - math.log(27)) < 0.05
    assert naive.item() > 3 * math.log(27)


def test_unknown_init_is_refused():
    with pytest.raises(ValueError, match="init"):
        create_model("mlp", 27, MLPConfig(init="zeros"))


def test_same_seed_trains_to_the_same_numbers(tiny):
    config = TrainConfig(max_steps=60, batch_size=16, optimizer="adamw", lr=0.01, seed=7)
    a = train(create_model("mlp", len(tiny.vocab), MLPConfig(), seed=7), tiny, config)
    b = train(create_model("mlp", len(tiny.vocab), MLPConfig(), seed=7), tiny, config)
    c = train(create_model("mlp", len(tiny.vocab), MLPConfig(), seed=8),
              tiny, TrainConfig(**{**config.__dict__, "seed": 8}))
    assert a.loss_history == b.loss_history and a.val_loss == b.val_loss
    assert a.loss_history != c.loss_history


def test_cli_default_recipe_reaches_the_promised_loss(capsys, names_path):
    # the promise: the page's defaults (also the CLI's) reach val <= 2.20 on the lecture's list
    code = main(["train", "--model", "mlp", "--data", str(names_path), "--json"])
    report = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert code == 0 and report["steps"] == 4000 and report["params"] == 11_897
    assert report["val_loss"] <= 2.20, report["val_loss"]
    assert report["train_loss"] < report["val_loss"] < 2.4533  # below the bigram's


@pytest.mark.parametrize("argv, wrong", [
    (["--n-hidden", "100000"], "--n-hidden: must be between 16 and 512"),
    (["--block-size", "0"], "--block-size: must be between 1 and 10"),
    (["--init", "zeros"], "--init: invalid choice"),
    (["--n-embd", "ten"], "--n-embd: must be an integer"),
])
def test_cli_refuses_bad_mlp_options_in_one_line(capsys, argv, wrong):
    code = main(["train", "--model", "mlp", *argv])
    err = capsys.readouterr().err
    assert code == 2 and wrong in err and len(err.strip().splitlines()) == 1


def test_lr_sweep_suggests_a_rate_in_range(names):
    sweep = lr_sweep(names, "mlp", MLPConfig(), optimizer="sgd", batch_size=32, steps=1000)
    assert 1e-3 <= sweep.suggested_lr <= 1.0
    # the lecture finds about 0.1 for this network and optimizer
    assert 0.02 <= sweep.suggested_lr <= 0.3, sweep.suggested_lr
    assert len(sweep.exponents) == len(sweep.losses) == len(sweep.smoothed) > 100
    assert sweep.exponents[0] == pytest.approx(-3.0)


def test_suggest_backs_off_from_the_minimum():
    exponents = [-3 + 0.1 * i for i in range(31)]
    smoothed = [(e + 1) ** 2 + 2 for e in exponents]  # lowest at -1
    assert suggest(exponents, smoothed) == pytest.approx(-1.5)
    assert suggest(exponents[:3], smoothed[:3]) == pytest.approx(-3.0)  # never below the sweep


def test_pca_projection():
    C = torch.randn(27, 10, generator=torch.Generator().manual_seed(0))
    coords, method, share = project_2d(C)
    assert coords.shape == (27, 2) and "PCA" in method and 0 < share <= 1
    centred = C - C.mean(0)
    # the first component carries the largest variance, and the two are uncorrelated
    total = centred.var(0).sum()
    assert coords[:, 0].var() >= coords[:, 1].var()
    assert share == pytest.approx(((coords[:, 0].var() + coords[:, 1].var()) / total).item(), rel=1e-4)
    assert abs(torch.corrcoef(coords.T)[0, 1]) < 1e-4
    # with two dimensions the table is drawn as it is
    two = torch.randn(27, 2)
    coords2, method2, share2 = project_2d(two)
    assert torch.equal(coords2, two) and share2 == 1.0 and "two embedding" in method2
    # a table stretched along one direction is projected onto it
    line = torch.outer(torch.arange(27.0), torch.tensor([1.0, 2.0, 2.0])) / 3
    assert project_2d(line)[2] == pytest.approx(1.0)


def test_nearest_characters():
    C = torch.tensor([[0.0, 0.0], [0.1, 0.0], [5.0, 5.0], [5.0, 5.2]])
    distances, indices = nearest(C, k=1)
    assert indices.flatten().tolist() == [1, 0, 3, 2]
    assert distances[0, 0].item() == pytest.approx(0.1)


def test_estimate_grows_with_steps_batch_and_width():
    base = estimate_seconds(27, MLPConfig(), 1000, 32)
    assert base > 0
    start = estimate_seconds(27, MLPConfig(), 0, 32)
    assert estimate_seconds(27, MLPConfig(), 2000, 32) - start == pytest.approx(2 * (base - start))
    assert estimate_seconds(27, MLPConfig(), 1000, 32, evaluated=200_000) > base
    assert estimate_seconds(27, MLPConfig(), 1000, 1024) > base
    assert estimate_seconds(27, MLPConfig(n_hidden=512), 1000, 1024) > estimate_seconds(27, MLPConfig(), 1000, 1024)


# --- URL settings ---------------------------------------------------------------------------------

SETTINGS = [
    Setting("block", "Block size", 3, lo=1, hi=10),
    Setting("lr", "Learning rate", 0.01, options=(0.001, 0.01, 0.1)),
    Setting("opt", "Optimizer", "adamw", options=("adamw", "sgd")),
    Setting("seed", "Seed", 1337, lo=0, hi=1_000_000),
]


def test_good_query_values_are_parsed():
    values, problems, unknown = parse_query({"block": "5", "lr": "0.1", "opt": "sgd", "seed": "0"}, SETTINGS)
    assert values == {"block": 5, "lr": 0.1, "opt": "sgd", "seed": 0}
    assert problems == [] and unknown == []
    # the last of a repeated parameter wins
    assert parse_query({"lr": "0.001", "block": ["2", "4"]}, SETTINGS)[0] == {"lr": 0.001, "block": 4}


@pytest.mark.parametrize("query, wrong", [
    ({"block": "abc"}, "not an integer"),
    ({"block": "-1"}, "outside 1–10"),
    ({"block": "99999999999"}, "outside 1–10"),
    ({"block": "2.5"}, "not an integer"),
    ({"lr": "0.5"}, "not one of"),
    ({"lr": "1e-1"}, "not one of"),  # the widget reads back only its own spelling, 0.1
    ({"lr": "nan"}, "not one of"),
    ({"opt": "adam"}, "not one of"),
    ({"seed": ""}, "not an integer"),
])
def test_bad_query_values_fall_back_with_a_reason(query, wrong):
    values, problems, unknown = parse_query(query, SETTINGS)
    assert values == {} and unknown == []
    assert len(problems) == 1 and wrong in problems[0] and "default" in problems[0]


def test_unknown_query_parameters_are_reported():
    values, problems, unknown = parse_query({"foo": "1", "dataset_choice": "x", "block": "2"}, SETTINGS,
                                            also_known=("dataset_choice",))
    assert values == {"block": 2} and problems == [] and unknown == ["foo"]
