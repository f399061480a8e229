"""How long a training will take, before it starts: the pages show it, and refuse a run whose
estimate is over limits.MAX_TRAIN_SECONDS, so that no combination of sliders holds a core for long.

    seconds = training_seconds("mlp", dataset, MLPConfig(), TrainConfig())

A model family may have its own formula, fitted to measured runs (the modules of this package:
mlp, mlp_bn, recurrent, wavenet, each with its `estimate_seconds` and the constants of its fit);
every other one gets the generic estimate below, from the multiply-adds of one forward pass
(counted by torch on one example), the number of weight tensors (each costs the optimizer a few
kernel launches per step) and the examples a step sees. One torch thread, as the app trains.
"""

from __future__ import annotations

from functools import lru_cache

import torch
from torch.utils.flop_counter import FlopCounterMode

from makemore.data import WordDataset
from makemore.estimate import mlp, mlp_bn, recurrent, wavenet
from makemore.models import WORDS, create_model, layout
from makemore.train import TrainConfig, evaluated_examples


def expected_longest(dataset: WordDataset, batch: int) -> float:
    """Positions of a batch of `batch` random training words cut to its longest (makemore.train.trim):
    the expected longest word of the batch, plus the start token."""
    lengths = sorted(len(w) for w in dataset.splits["train"])
    n = len(lengths)
    # P(longest >= L) = 1 - P(every word shorter than L)
    below = {L: sum(1 for x in lengths if x < L) / n for L in range(1, lengths[-1] + 1)}
    return 1 + sum(1 - below[L] ** batch for L in range(1, lengths[-1] + 1))


def _recurrent(vocab_size, config, train_config: TrainConfig, batch: int, evaluated: int, dataset) -> float:
    padding = dataset.sequence_length / (sum(len(w) + 1 for w in dataset.words) / len(dataset.words))
    return recurrent.estimate_seconds(vocab_size, config, train_config.max_steps, batch, evaluated * padding,
                                      positions=expected_longest(dataset, batch))


# model name -> its own formula, fitted to measured runs:
# f(vocab_size, config, train_config, batch, evaluated characters, dataset) -> seconds
FITTED = {
    "mlp": lambda V, config, tc, batch, evaluated, _: mlp.estimate_seconds(V, config, tc.max_steps, batch, evaluated),
    "mlp-bn": lambda V, config, tc, batch, evaluated, _: mlp_bn.estimate_seconds(V, config, tc.max_steps, batch,
                                                                                 evaluated),
    "wavenet": lambda V, config, tc, batch, evaluated, _: wavenet.estimate_seconds(V, config, tc.max_steps, batch,
                                                                                   evaluated, tc.optimizer),
    "rnn": _recurrent,
    "gru": _recurrent,
}

# The generic estimate's costs, with one torch thread (bench/stages.py prints real times beside it).
# Fitted to the Transformer and bag-of-words runs of bench/stages.py (1-4 blocks of 32-64, batches of 32-128).
START_SECONDS = 1.0  # building the examples, the process, the first slow steps
STEP_SECONDS = 0.4e-3  # Python and bookkeeping of one step
TENSOR_STEP_SECONDS = 5e-6  # per weight tensor and step: its gradient, the optimizer's update
POSITION_SECONDS = 0.5e-6  # per position computed: lookups, softmax, cross-entropy, small kernels
FLOP_SECONDS = 0.08e-9  # per floating-point operation of the forward pass, its backward included
DROPOUT_FACTOR = 1.3  # dropout's masks cost about this much more per step on a CPU
EVALUATION_SHARE = 0.35  # evaluating a position costs about this much of training on it


@lru_cache(maxsize=256)
def forward_cost(model_name: str, vocab_size: int, model_config, positions: int) -> tuple[float, int]:
    """(floating-point operations of one forward pass per predicted character, weight tensors)."""
    model = create_model(model_name, vocab_size, model_config)
    model.train()
    idx = torch.zeros(1, positions if layout(model) == WORDS else model.block_size, dtype=torch.long)
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        model(idx)
    tensors = sum(1 for p in model.parameters() if p.requires_grad)
    return counter.get_total_flops() / (positions if layout(model) == WORDS else 1), tensors


def training_seconds(model_name: str, dataset: WordDataset, model_config, train_config: TrainConfig) -> float:
    """Rough wall time to train and evaluate a run on one core."""
    vocab_size = len(dataset.vocab)
    evaluated = evaluated_examples(train_config, dataset)  # predicted characters
    model = create_model(model_name, vocab_size, model_config)
    words = layout(model) == WORDS
    train_rows = len(dataset.splits["train"]) if words else sum(len(w) + 1 for w in dataset.splits["train"])
    batch = min(train_config.batch_size or train_rows, train_rows)
    if model_name in FITTED:
        return FITTED[model_name](vocab_size, model_config, train_config, batch, evaluated, dataset)
    if not any(p.requires_grad for p in model.parameters()):
        return START_SECONDS  # counted, not trained
    flops, tensors = forward_cost(model_name, vocab_size, model_config, dataset.sequence_length)
    # a row of whole words computes every position up to the batch's longest word, padding included
    positions_per_row = expected_longest(dataset, batch) if words else 1
    padding = dataset.sequence_length / (sum(len(w) + 1 for w in dataset.words) / len(dataset.words)) if words else 1
    per_position = POSITION_SECONDS + FLOP_SECONDS * flops
    if any(isinstance(m, torch.nn.Dropout) and m.p > 0 for m in model.modules()):
        per_position *= DROPOUT_FACTOR
    per_step = STEP_SECONDS + TENSOR_STEP_SECONDS * tensors
    return (START_SECONDS + train_config.max_steps * (per_step + batch * positions_per_row * per_position)
            + EVALUATION_SHARE * evaluated * padding * per_position)
