"""The MLP's time (makemore.models.mlp), fitted to measured runs."""

from makemore.models.mlp import MLPConfig

# Measured with one torch thread, as the app trains (bench/mlp.py prints the real figure next to
# this estimate): a step costs ~0.45 ms of Python and optimizer work, ~1.2 us per example (lookup,
# softmax, cross-entropy) and ~0.09 ns per multiply-add of the forward pass (backward included).
# Evaluating an example (forward only, in chunks) costs about 0.4 of training on it. A run starts
# with about a second of building the examples of a list like names.txt and of slower first steps.
START_SECONDS = 1.0
STEP_SECONDS = 0.45e-3
EXAMPLE_SECONDS = 1.2e-6
MAC_SECONDS = 0.09e-9
EVALUATION_SHARE = 0.4


def estimate_seconds(vocab_size: int, config: MLPConfig, max_steps: int, batch_size: int,
                     evaluated: int = 0) -> float:
    """Rough wall time to train (and evaluate `evaluated` examples), for the page to show (and cap)
    before a run starts."""
    macs = config.block_size * config.n_embd * config.n_hidden + config.n_hidden * vocab_size
    per_example = EXAMPLE_SECONDS + MAC_SECONDS * macs
    return (START_SECONDS + max_steps * (STEP_SECONDS + batch_size * per_example)
            + EVALUATION_SHARE * evaluated * per_example)
