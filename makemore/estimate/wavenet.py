"""The WaveNet's time (makemore.models.wavenet), fitted to measured runs."""

from makemore.models.wavenet import WaveNetConfig, wavenet_param_count


def multiply_adds(vocab_size: int, config: WaveNetConfig) -> int:
    """Multiply-adds of one example's forward pass: every level's Linear at each of its positions,
    and the output layer."""
    E, H = config.n_embd, config.n_hidden
    if not config.hierarchical:
        return config.context * E * H + H * vocab_size
    macs, T, width = 0, config.context, E
    for _ in range(config.levels):
        T //= 2
        macs += T * 2 * width * H
        width = H
    return macs + H * vocab_size


def hidden_values(config: WaveNetConfig) -> int:
    """Numbers each example puts through BatchNorm and tanh: n_hidden at every position of every level."""
    if not config.hierarchical:
        return config.n_hidden
    return config.n_hidden * (config.context - 1)  # context/2 + context/4 + ... + 1 positions


# Fitted to 28 timings (bench: 7 nets from lecture 5's 12k-parameter MLP to 280k-parameter trees,
# batches of 32-1024, SGD and AdamW) with one torch thread, as the app trains; within 10 % on most,
# 25 % at worst. Per step: Python and small kernels, more per level; AdamW's bookkeeping, fixed and
# per parameter. Per example: the lookup and the loss, BatchNorm and tanh per hidden value, and the
# multiply-adds. Evaluating an example (forward only, in chunks) costs about 0.4 of training on it.
START_SECONDS = 1.0  # building the windows of a list like names.txt, slower first steps
STEP_SECONDS = 0.22e-3
LEVEL_STEP_SECONDS = 0.16e-3
ADAMW_STEP_SECONDS = 0.25e-3
ADAMW_PARAM_SECONDS = 2.4e-9
EXAMPLE_SECONDS = 0.3e-6
HIDDEN_VALUE_SECONDS = 3.8e-9
MAC_SECONDS = 0.043e-9
EVALUATION_SHARE = 0.4


def estimate_seconds(vocab_size: int, config: WaveNetConfig, max_steps: int, batch_size: int,
                     evaluated: int = 0, optimizer: str = "adamw") -> float:
    """Rough wall time on one core to train (and evaluate `evaluated` examples), for the page to
    show (and cap) before a run starts."""
    per_step = STEP_SECONDS + LEVEL_STEP_SECONDS * config.levels
    if optimizer == "adamw":
        per_step += ADAMW_STEP_SECONDS + ADAMW_PARAM_SECONDS * wavenet_param_count(vocab_size, config)
    per_example = (EXAMPLE_SECONDS + HIDDEN_VALUE_SECONDS * hidden_values(config)
                   + MAC_SECONDS * multiply_adds(vocab_size, config))
    return (START_SECONDS + max_steps * (per_step + batch_size * per_example)
            + EVALUATION_SHARE * evaluated * per_example)
