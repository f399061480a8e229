"""The loss at each position of a word: how well a model predicts a word's 1st character, its 2nd,
..., and where it ends.

A word w1..wn asks a model for n + 1 predictions: w1 after the start token, w2 after w1, ..., and
the boundary token after wn. Position p (1-based) is the p-th of them, and its loss is averaged
over the words of a split that are long enough to have one:

    loss(p) = mean over the words with n + 1 >= p of  -log P(c_p | c_1 .. c_{p-1})

A bigram sees one character whatever p is; a model with a longer context should do better from
the 2nd or 3rd character on, and a whole-word model may keep improving down the word. Weighted by
how many words reach each position, these losses average to the split's loss (makemore.train.evaluate).

Both layouts give the same positions: a windows model's rows are the words' characters in order
(n + 1 rows per word, makemore.data.build_examples); a words model's column t is position t + 1.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from makemore.data import WordDataset
from makemore.models.loss import NO_TARGET
from makemore.train import split_tensors, trim


@dataclass(frozen=True)
class PositionLoss:
    position: int  # 1: the word's first character, ..., n + 1: its end
    loss: float  # mean -log P of the character at this position
    words: int  # how many words of the split reach this position


def example_positions(dataset: WordDataset, split: str, Y: torch.Tensor) -> torch.Tensor:
    """The 0-based position in its word of every target of Y: (N,) for windows, (N, T) for words."""
    if Y.dim() == 1:  # windows: each word's n + 1 rows, one word after another
        return torch.cat([torch.arange(len(word) + 1) for word in dataset.splits[split]])
    return torch.arange(Y.shape[1]).expand_as(Y)


@torch.no_grad()
def loss_by_position(model, dataset: WordDataset, split: str = "val", chunk: int = 4096) -> list[PositionLoss]:
    """The model's mean loss at each position of the split's words (in chunks of about `chunk`
    targets, as evaluate does, so memory stays bounded)."""
    was_training = model.training
    model.eval()
    X, Y = split_tensors(model, dataset, split)
    positions = example_positions(dataset, split, Y)
    longest = 1 + max(len(word) for word in dataset.splits[split])
    totals = torch.zeros(longest, dtype=torch.float64)
    counts = torch.zeros(longest, dtype=torch.long)
    rows = max(1, chunk // Y[0].numel())
    for i in range(0, len(X), rows):
        Xc, Yc = trim(X[i : i + rows], Y[i : i + rows])
        Pc = positions[i : i + rows][..., : Yc.shape[-1]]  # cut as trim cut the words
        logits, _ = model(Xc)
        targets = Yc.reshape(-1)
        keep = targets != NO_TARGET
        losses = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets, ignore_index=NO_TARGET,
                                 reduction="none")
        where = Pc.reshape(-1)[keep]
        totals.index_add_(0, where, losses[keep].double())
        counts.index_add_(0, where, torch.ones_like(where))
    model.train(was_training)
    return [PositionLoss(p + 1, float(totals[p] / counts[p]), int(counts[p]))
            for p in range(longest) if counts[p] > 0]
