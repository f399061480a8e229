"""What moving code must not change: the cache keys of every registered recipe (about 80 shipped
files in data/models are named by them), the time estimates (their fits moved from the model files
to makemore/estimate/), and the losses of the models that now go through the one loss
(makemore.models.loss.next_char_loss) instead of calling F.cross_entropy themselves. The expected
values were computed with the code before the move."""

import dataclasses

import pytest
import torch
import torch.nn.functional as F

from makemore.serving.checkpoint import cache_key
from makemore.estimate import training_seconds
from makemore.estimate.mlp import estimate_seconds as mlp_seconds
from makemore.estimate.mlp_bn import estimate_seconds as mlp_bn_seconds
from makemore.estimate.recurrent import estimate_seconds as recurrent_seconds
from makemore.estimate.wavenet import estimate_seconds as wavenet_seconds
from makemore.models import MODELS, create_model
from makemore.models.bigram import BigramCountsConfig
from makemore.models.mlp import MLPConfig
from makemore.models.mlp_bn import MLPBNConfig
from makemore.models.recurrent import GRUConfig, RNNConfig
from makemore.models.wavenet import WaveNetConfig
from makemore.train import TrainConfig

FINGERPRINT = "fp"  # any fixed word list's: a key changes with the settings, which is what is checked

KEYS = {  # computed with the code before the move
    "bigram fast": "cf228d0339d60498fc4008c5",
    "bigram-nn fast": "cd314d78bc3d985e7aa5debd",
    "bigram-nn lecture": "b498cd2b7115f2f5a1dcf77b",
    "mlp fast": "a3d4a98833710e3211603818",
    "mlp lecture": "3cde8fe5e43588b7a4c65b6e",
    "mlp-bn fast": "f29b375f83afaa3eda0d913f",
    "mlp-bn lecture": "3df1d19685e41ac10c9eeec1",
    "mlp-bn naive": "191e619aae02eea4cedaadc0",
    "mlp-bn softmax": "e177dba3839b3cf3e006b8e9",
    "mlp-bn tanh": "eb0133a94f85971279957a86",
    "mlp-bn kaiming": "3b8153797df9725f4f135016",
    "mlp-bn batchnorm": "f29b375f83afaa3eda0d913f",
    "mlp-bn deep": "3c7db69a9344dc6682b51f5a",
    "mlp-bn deep-no-gain": "4ef97a3bca83efc95d4f83cd",
    "mlp-bn deep-batchnorm": "111322da2c8e76a8d7f96a58",
    "wavenet fast": "cd82fe59612b5e6ddf8b5649",
    "wavenet lecture": "1ed0d6aa8252d5492acb0679",
    "wavenet context-3": "62d37ad4d06b64deeb191805",
    "wavenet context-8": "eebcb60ec063bc9474c28f7a",
    "wavenet hierarchical-bug": "2fa15b3dd0d096ce82827ca5",
    "wavenet hierarchical": "569ec6ab64abbde45c042731",
    "wavenet scaled-up": "cd82fe59612b5e6ddf8b5649",
    "wavenet longer": "312221f0644a84a7ffa61b18",
    "rnn fast": "fc655eb3626a938860f4cbc7",
    "rnn lecture": "492bfd1095f3f7b6d01a0558",
    "gru fast": "f959530efb0b1be74a067c8c",
    "gru lecture": "52d9b6f2af32b6398f97cd31",
    "gru larger": "25e56357de565a74c3e782a1",
    "bow fast": "87ebef022ae053c93166d21e",
    "transformer fast": "cd402085a47be0eb43d2a47d",
    "transformer lecture": "c6f8b01687e6dfe3a596acf1",
    "transformer bow": "1e684061fcd37399618b7af4",
    "transformer one-head": "9ba9e87a76641da0821cf22f",
    "transformer multi-head": "9b44bf11ce47f806638da583",
    "transformer feed-forward": "d0d1885b407784ef28d8bc13",
    "transformer residual": "c74972f73dc8e589a6a4e716",
    "transformer layernorm": "f64b71ff5087c3ad7ebfb419",
    "transformer gpt": "ccea673ed67e88cdcb832453",
    "keep_best": "cdacd861cc575fffcb23787f",
}

ESTIMATES = {  # computed with the code before the move
    "mlp": 1.521232,
    "mlp eval": 6.297410559999999,
    "mlp-bn": 2.045584,
    "mlp-bn deep": 18.710528,
    "rnn": 3.9197946879999996,
    "gru": 59.890186240000006,
    "wavenet": 4.472925088,
    "wavenet sgd flat": 2.422234752,
    "mlp on names": 7.9654294384,
    "mlp-bn on names": 20.499016220799998,
    "wavenet on names": 34.74621125240321,
    "rnn on names": 10.812501154881152,
    "gru on names": 17.505766379764708,
    "bow on names": 19.110465971974225,
    "transformer on names": 43.889981759806744,
    "bigram on names": 1.0,
    "bigram-nn on names": 10.29096805,
}


def registered_runs():
    """(name, model name, model config, train config) of every recipe and preset in the registry."""
    for name, spec in MODELS.items():
        yield f"{name} fast", name, spec.config(), TrainConfig(**spec.train_defaults)
        if spec.lecture:
            yield (f"{name} lecture", name, dataclasses.replace(spec.config(), **spec.lecture.model),
                   TrainConfig(**spec.lecture.train))
        for preset_name, preset in spec.presets.items():
            yield (f"{name} {preset_name}", name, preset.config,
                   TrainConfig(**{**spec.train_defaults, **preset.train}))
    yield "keep_best", "mlp", MLPConfig(), TrainConfig(keep_best=True)


def test_every_registered_recipe_keeps_its_cache_key():
    keys = {label: cache_key(FINGERPRINT, name, config, train) for label, name, config, train in registered_runs()}
    assert keys == KEYS


def test_the_fitted_estimates_are_the_same_numbers(names_dataset):
    estimates = {
        "mlp": mlp_seconds(27, MLPConfig(), 1000, 32),
        "mlp eval": mlp_seconds(27, MLPConfig(n_hidden=64, block_size=5), 4000, 512, 200_000),
        "mlp-bn": mlp_bn_seconds(27, MLPBNConfig(), 1000, 32),
        "mlp-bn deep": mlp_bn_seconds(27, MLPBNConfig(n_layers=5, n_hidden=100, batchnorm=False), 2000, 1024, 100_000),
        "rnn": recurrent_seconds(27, RNNConfig(), 1000, 64),
        "gru": recurrent_seconds(27, GRUConfig(n_layers=2), 4000, 128, 300_000, positions=12.5),
        "wavenet": wavenet_seconds(27, WaveNetConfig(), 1000, 256),
        "wavenet sgd flat": wavenet_seconds(27, WaveNetConfig(context=3, hierarchical=False), 3000, 64, 50_000, "sgd"),
    }
    for name in ("mlp", "mlp-bn", "wavenet", "rnn", "gru", "bow", "transformer", "bigram", "bigram-nn"):
        spec = MODELS[name]
        estimates[f"{name} on names"] = training_seconds(name, names_dataset, spec.config(),
                                                         TrainConfig(**spec.train_defaults))
    assert estimates == ESTIMATES  # exactly: the same arithmetic in the same order


@pytest.mark.parametrize("name, config", [
    ("bigram", BigramCountsConfig(alpha=0.5)),
    ("bigram", BigramCountsConfig(alpha=0.0)),  # a pair never seen: -inf logits, an infinite loss
    ("bigram-nn", None),
    ("mlp", None),
    ("mlp-bn", None),
])
def test_the_one_loss_gives_these_models_bit_identical_losses_and_gradients(tiny_dataset, name, config):
    model = create_model(name, len(tiny_dataset.vocab), config, seed=3)
    X, Y = tiny_dataset.examples("val", model.block_size)
    if hasattr(model, "fit"):
        model.fit(*tiny_dataset.examples("train", model.block_size))
    logits, loss = model(X, Y)
    before = F.cross_entropy(logits, Y)  # what these models computed before
    assert torch.equal(loss, before)
    params = [p for p in model.parameters() if p.requires_grad]
    if params:
        now = torch.autograd.grad(loss, params, retain_graph=True)
        then = torch.autograd.grad(before, params)
        assert all(torch.equal(a, b) for a, b in zip(now, then))
