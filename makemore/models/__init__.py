"""The model registry: every model family shares one interface.

    model = create_model("bigram-nn", vocab_size=27, config=BigramNNConfig(), seed=1)
    logits, loss = model(idx, targets)   # idx: (B, model.block_size) int64, targets: (B,)

A model with trainable parameters is trained by gradients (makemore.train); one without them
(the counts bigram) has a `fit(X, Y)` method instead. Adding a model family means one module
here and one entry in MODELS.
"""

from dataclasses import dataclass, field, fields

import torch
import torch.nn as nn

from makemore.models.bigram import BigramCounts, BigramCountsConfig, BigramNN, BigramNNConfig
from makemore.models.mlp import MLP, MLPConfig
from makemore.models.mlp_bn import MLPBN, MLPBNConfig


@dataclass(frozen=True)
class ModelSpec:
    cls: type  # nn.Module subclass taking (vocab_size, config, generator)
    config: type  # frozen dataclass of the model's settings (hashable, so a cache key)
    summary: str
    train_defaults: dict = field(default_factory=dict)  # TrainConfig fields that suit this model


MODELS: dict[str, ModelSpec] = {
    "bigram": ModelSpec(
        BigramCounts,
        BigramCountsConfig,
        "bigram counts with add-alpha smoothing (lecture 1)",
        dict(max_steps=0),
    ),
    "bigram-nn": ModelSpec(
        BigramNN,
        BigramNNConfig,
        "neural bigram: one-hot x W, softmax, gradient descent (lecture 1)",
        dict(max_steps=100, batch_size=0, optimizer="adamw", lr=0.5, eval_interval=10),
    ),
    "mlp": ModelSpec(
        MLP,
        MLPConfig,
        "MLP on concatenated character embeddings, one tanh hidden layer (lecture 2)",
        # the page's fast recipe: val ~2.11 in ~6 s on 2 CPU cores (the lecture: ~2.15 in ~130 s)
        dict(max_steps=4000, batch_size=512, optimizer="adamw", lr=0.01, schedule="cosine",
             eval_interval=200),
    ),
    "mlp-bn": ModelSpec(
        MLPBN,
        MLPBNConfig,
        "deeper MLP with BatchNorm and the initialisations of lecture 3",
        # the page's fast recipe for the lecture's one-layer BatchNorm net: val ~2.106 in ~17 s on
        # one core (the lecture: 2.1057 after 200k SGD steps); BatchNorm likes the bigger batch
        dict(max_steps=4000, batch_size=1024, optimizer="adamw", lr=0.01, schedule="cosine",
             eval_interval=200),
    ),
}


def create_model(name: str, vocab_size: int, config=None, seed: int = 1337) -> nn.Module:
    """Build a model with its weights drawn from a generator seeded with `seed`.

    A private generator (not the global RNG) keeps initialisation reproducible when several
    students train at once in one server process.
    """
    spec = MODELS[name]
    config = spec.config() if config is None else config
    generator = torch.Generator().manual_seed(seed)
    return spec.cls(vocab_size, config, generator=generator)


def config_fields(name: str) -> list:
    """The dataclass fields of a model's config (for CLI options and UI labels)."""
    return list(fields(MODELS[name].config))


def count_params(model: nn.Module) -> int:
    """Trainable parameters; for a counting model, the numbers in its table."""
    n = sum(p.numel() for p in model.parameters() if p.requires_grad)
    return n or sum(b.numel() for b in model.buffers())
