"""The BatchNorm MLP's time (makemore.models.mlp_bn), fitted to measured runs."""

from makemore.models.mlp_bn import MLPBNConfig

# Fitted to 14 runs of 1-8 layers of 16-512 units, batches of 16-2048, with one torch thread as the
# app trains (within 4 % on each; bench/batchnorm.py prints real times beside the estimate): fixed
# costs per step, per layer and per BatchNorm layer (Python, the optimizer, small kernels); per
# example; per example and layer of 100 units (tanh, BatchNorm's arithmetic); per multiply-add.
# Evaluating an example (forward only, in chunks) costs about 0.4 of training on it. A run starts
# with about a second of building the examples of a list like names.txt and of slower first steps.
START_SECONDS = 1.0
STEP_SECONDS = 0.53e-3
LAYER_STEP_SECONDS = 0.15e-3
BN_STEP_SECONDS = 0.25e-3
EXAMPLE_SECONDS = 0.6e-6
LAYER_EXAMPLE_SECONDS = 0.6e-6
BN_EXAMPLE_SECONDS = 0.45e-6
MAC_SECONDS = 0.08e-9
EVALUATION_SHARE = 0.4


def estimate_seconds(vocab_size: int, config: MLPBNConfig, max_steps: int, batch_size: int,
                     evaluated: int = 0) -> float:
    """Rough wall time on one core to train (and evaluate `evaluated` examples), for the page to
    show (and cap) before a run starts."""
    H, L = config.n_hidden, config.n_layers
    bn = L if config.batchnorm else 0  # BatchNorm layers
    macs = config.block_size * config.n_embd * H + (L - 1) * H * H + H * vocab_size
    per_step = STEP_SECONDS + LAYER_STEP_SECONDS * L + BN_STEP_SECONDS * bn
    per_example = (EXAMPLE_SECONDS + (LAYER_EXAMPLE_SECONDS * L + BN_EXAMPLE_SECONDS * bn) * H / 100
                   + MAC_SECONDS * macs)
    return (START_SECONDS + max_steps * (per_step + batch_size * per_example)
            + EVALUATION_SHARE * evaluated * per_example)
