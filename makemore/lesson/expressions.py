"""The lecture's small expressions for the scalar engine, and two other ways to get their gradients.

Each `Expression` has a title, its formula in LaTeX, default inputs and a `build` that makes the
output Value with every node labelled as in the lecture; `leaves` finds its inputs by name. The
engine's gradients (`backward()`) can then be checked against PyTorch's autograd in float64
(`torch_grads`, our graph replayed op by op; torch is imported only there) and against central
differences (f(x + h) - f(x - h)) / 2h (`numerical_grads`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from makemore.lesson.engine import Value, topological_order


@dataclass(frozen=True)
class Expression:
    title: str  # for a select box
    latex: str  # the formula, for st.latex
    inputs: dict[str, float]  # the leaves' default values, by name
    build: Callable[[dict[str, float]], Value]  # inputs -> output Value, every node labelled


def _labelled(value: Value, label: str) -> Value:
    value.label = label
    return value


def _inputs(inputs: dict[str, float], names: str) -> list[Value]:
    return [Value(inputs[name], label=name) for name in names.split()]


def _neuron_n(inputs):
    """The neuron's weighted sum n = x1*w1 + x2*w2 + b, each step labelled as in the lecture."""
    x1, x2, w1, w2, b = _inputs(inputs, "x1 x2 w1 w2 b")
    x1w1 = _labelled(x1 * w1, "x1w1")
    x2w2 = _labelled(x2 * w2, "x2w2")
    x1w1x2w2 = _labelled(x1w1 + x2w2, "x1w1x2w2")
    return _labelled(x1w1x2w2 + b, "n")


def _neuron(inputs):
    return _labelled(_neuron_n(inputs).tanh(), "o")


def _neuron_exp(inputs):
    n = _neuron_n(inputs)
    two_n = _labelled(2 * n, "2n")
    e = _labelled(two_n.exp(), "e")  # e^{2n}
    numerator = _labelled(e - 1, "e - 1")
    denominator = _labelled(e + 1, "e + 1")
    inverse = _labelled(denominator**-1, "1/(e + 1)")  # a / b is a * b**-1
    return _labelled(numerator * inverse, "o")


def _lecture_L(inputs):
    a, b, c, f = _inputs(inputs, "a b c f")
    e = _labelled(a * b, "e")
    d = _labelled(e + c, "d")
    return _labelled(d * f, "L")


def _reuse(inputs):
    a, b = _inputs(inputs, "a b")
    d = _labelled(a * b, "d")
    e = _labelled(a + b, "e")
    return _labelled(d * e, "f")


# the lecture's b makes n = 0.8814, so that o = tanh(n) = 1/sqrt(2)
_NEURON_INPUTS = dict(x1=2.0, x2=0.0, w1=-3.0, w2=1.0, b=6.8813735870195432)

EXPRESSIONS: dict[str, Expression] = {
    "neuron": Expression(
        "The lecture's neuron: tanh(x1·w1 + x2·w2 + b)",
        r"o = \tanh(x_1 w_1 + x_2 w_2 + b)",
        _NEURON_INPUTS,
        _neuron,
    ),
    "neuron-exp": Expression(
        "The same neuron, tanh written out with exp",
        r"n = x_1 w_1 + x_2 w_2 + b, \quad o = \frac{e^{2n} - 1}{e^{2n} + 1}",
        _NEURON_INPUTS,
        _neuron_exp,
    ),
    "lecture-L": Expression(
        "The lecture's first example: L = (a·b + c)·f",
        r"L = (a b + c) f",
        dict(a=2.0, b=-3.0, c=10.0, f=-2.0),
        _lecture_L,
    ),
    "reuse": Expression(
        "A variable used twice: f = (a·b)·(a + b)",
        r"f = (a b)(a + b)",
        dict(a=-2.0, b=3.0),
        _reuse,
    ),
}


def leaves(root: Value) -> dict[str, Value]:
    """The labelled leaves (no children) by label: the inputs, not the constants."""
    return {v.label: v for v in topological_order(root) if not v.children and v.label}


def torch_grads(expression: Expression, inputs: dict[str, float]) -> dict[str, float]:
    """d output / d input by input name, from PyTorch's autograd in float64.

    The torch graph is our graph replayed op by op, so every expression is checked without being
    written twice."""
    import torch

    root = expression.build(inputs)
    named = {id(leaf): name for name, leaf in leaves(root).items() if name in inputs}
    tensors = {}  # id(Value) -> its tensor
    for v in topological_order(root):
        if not v.children:
            tensors[id(v)] = torch.tensor(v.data, dtype=torch.float64, requires_grad=id(v) in named)
            continue
        args = [tensors[id(child)] for child in v.children]
        if v.op == "+":
            tensors[id(v)] = args[0] + args[1]
        elif v.op == "*":
            tensors[id(v)] = args[0] * args[1]
        elif v.op.startswith("**"):
            tensors[id(v)] = args[0] ** float(v.op[2:])
        else:  # tanh, exp, relu
            tensors[id(v)] = getattr(torch, v.op)(args[0])
    grads = dict.fromkeys(inputs, 0.0)  # an input the output does not use has gradient 0
    if tensors[id(root)].requires_grad:
        tensors[id(root)].backward()
        for key, name in named.items():
            grads[name] = tensors[key].grad.item()
    return grads


def numerical_grads(expression: Expression, inputs: dict[str, float], h: float = 1e-6) -> dict[str, float]:
    """Central differences (f(x + h) - f(x - h)) / 2h, one input at a time."""
    grads = {}
    for name, x in inputs.items():
        up = expression.build({**inputs, name: x + h}).data
        down = expression.build({**inputs, name: x - h}).data
        grads[name] = (up - down) / (2 * h)
    return grads
