"""The one loss every model trains on and is measured by."""

import torch
import torch.nn.functional as F

from makemore.data import NO_TARGET  # noqa: F401  (a padded position: nothing to predict there)


def next_char_loss(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Mean negative log-likelihood per predicted character.

    logits (B, V) with targets (B,), or (B, T, V) with targets (B, T) where NO_TARGET marks padding;
    the mean is over the characters that are predicted, so padding never counts."""
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1), ignore_index=NO_TARGET)
