"""The RNN's and the GRU's time (makemore.models.recurrent), fitted to measured runs."""

from makemore.models.recurrent import GRUConfig, RNNConfig

# Fitted to 19 timings of 1-2 layers of 64-128 units, batches of 32-256, with one torch thread (most
# within 15 %): a fixed cost per step (Python, the optimizer), a cost per position and layer (the
# fused op steps through time one position after another, whatever the batch), per example,
# position and layer, and per multiply-add of the recurrent matrices. The positions per step are
# the batch's padded length: 16 for names.txt, about 11-12 when each batch is cut to its longest word.
STEP_SECONDS = 0.56e-3
POSITION_SECONDS = {"rnn": 0.047e-3, "gru": 0.106e-3}
EXAMPLE_POSITION_SECONDS = 0.072e-6
MAC_SECONDS = 0.077e-9
EVALUATION_SHARE = 0.4  # evaluating a position (forward only, big chunks) against training on it
START_SECONDS = 1.0


def estimate_seconds(vocab_size: int, config: RNNConfig | GRUConfig, max_steps: int, batch_size: int,
                     evaluated: int = 0, positions: float = 16) -> float:
    """Rough wall time on one core to train for max_steps batches of `positions` padded positions
    (and evaluate `evaluated` padded positions), for the page to show (and cap) before a run."""
    E, H, L = config.n_embd, config.n_hidden, config.n_layers
    gates = 1 if config.cell == "rnn" else 3
    macs = gates * (E * H + H * H + (L - 1) * 2 * H * H)  # per example and position
    per_example_position = EXAMPLE_POSITION_SECONDS * L + MAC_SECONDS * macs
    per_step = STEP_SECONDS + positions * (POSITION_SECONDS[config.cell] * L + batch_size * per_example_position)
    return START_SECONDS + max_steps * per_step + EVALUATION_SHARE * evaluated * per_example_position
