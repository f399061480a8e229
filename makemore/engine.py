"""A scalar autograd engine, as in lecture 1 ("micrograd"), written for reading.

Every `Value` remembers the operation that made it, its inputs (children), and the local derivative
of itself with respect to each input, computed right away in the forward pass:

    c = a * b        c.children == (a, b)    c.local_grads == (b.data, a.data)

`backward()` then applies the chain rule from the output back: walking the graph in reverse
topological order, each node adds local derivative x its own gradient into each input's gradient.
Adding (not assigning) is what makes a value used twice get both contributions.

Where micrograd keeps a `_backward` closure per node, we keep the numbers themselves, so a page can
show every step of the backward pass as "local derivative x upstream gradient". The rest of this
module serves that page: the pass recorded step by step, the graph as Graphviz source, a few of the
lecture's expressions checked against PyTorch and finite differences, and micrograd's tiny MLP.
The engine itself is plain Python; torch is imported only to check it.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from typing import Callable


class Value:
    """A scalar, the operation that made it, and d(output)/d(self) once backward() has run."""

    def __init__(self, data: float, children: tuple = (), op: str = "", local_grads: tuple = (),
                 label: str = ""):
        self.data = float(data)
        self.grad = 0.0
        self.children = tuple(children)
        self.op = op  # "" for a leaf (an input or a constant)
        self.local_grads = tuple(local_grads)  # d(self)/d(child), one per child
        self.label = label

    def __add__(self, other):
        other = other if isinstance(other, Value) else Value(other)
        return Value(self.data + other.data, (self, other), "+", (1.0, 1.0))

    def __mul__(self, other):
        other = other if isinstance(other, Value) else Value(other)
        return Value(self.data * other.data, (self, other), "*", (other.data, self.data))

    def __pow__(self, k):
        if not isinstance(k, (int, float)):
            raise TypeError("only int or float powers are supported")
        return Value(self.data**k, (self,), f"**{k}", (k * self.data ** (k - 1),))

    def tanh(self):
        t = math.tanh(self.data)
        return Value(t, (self,), "tanh", (1 - t**2,))

    def exp(self):
        e = math.exp(self.data)
        return Value(e, (self,), "exp", (e,))  # d/dx e^x = e^x

    def relu(self):
        return Value(max(0.0, self.data), (self,), "relu", (float(self.data > 0),))

    # the rest are made of the operations above
    def __neg__(self):  # -self
        return self * -1

    def __radd__(self, other):  # other + self
        return self + other

    def __sub__(self, other):  # self - other
        return self + (-other)

    def __rsub__(self, other):  # other - self
        return other + (-self)

    def __rmul__(self, other):  # other * self
        return self * other

    def __truediv__(self, other):  # self / other
        return self * other**-1

    def __rtruediv__(self, other):  # other / self
        return other * self**-1

    def backward(self) -> None:
        """Gradients of self w.r.t. every node: self.grad = 1, then the chain rule in reverse
        topological order, each node adding local_grad * its grad into each child's grad.

        Gradients add up across calls, as in micrograd: zero them before running it again."""
        self.grad = 1.0
        for node in reversed(topological_order(self)):
            for child, local_grad in zip(node.children, node.local_grads):
                child.grad += local_grad * node.grad

    def __repr__(self):
        return f"Value(data={self.data:.4g}, grad={self.grad:.4g})"


def topological_order(root: Value) -> list[Value]:
    """Every node reachable from root exactly once, inputs before the nodes made from them, root last."""
    order, visited = [], set()

    def visit(node):
        if node not in visited:
            visited.add(node)
            for child in node.children:
                visit(child)
            order.append(node)  # after all of its inputs

    visit(root)
    return order


# --- the backward pass, one step at a time --------------------------------------------------------

@dataclass
class BackwardStep:
    node: Value  # the node whose gradient is passed back to its inputs in this step
    # (input, local derivative d node / d input, upstream = node.grad, product added to input.grad)
    contributions: list[tuple[Value, float, float, float]]
    grads: dict[int, float]  # every reached node's grad right after this step, keyed by id(node)


def backward_steps(root: Value) -> list[BackwardStep]:
    """The backward pass, recorded one node at a time, for a page that replays it.

    Every grad is reset to 0; step 0 sets the root's grad to 1, then each non-leaf node in reverse
    topological order passes its (by then complete) gradient back to its inputs. A node missing
    from a step's grads has not been reached yet. Afterwards every .grad is what backward() gives.
    """
    order = topological_order(root)
    for node in order:
        node.grad = 0.0
    root.grad = 1.0
    reached = {id(root): root}
    steps = [BackwardStep(root, [], {id(root): 1.0})]
    for node in reversed(order):
        if not node.children:
            continue
        contributions = []
        for child, local_grad in zip(node.children, node.local_grads):
            product = local_grad * node.grad
            child.grad += product
            contributions.append((child, local_grad, node.grad, product))
            reached[id(child)] = child
        steps.append(BackwardStep(node, contributions, {key: v.grad for key, v in reached.items()}))
    return steps


# --- drawing the graph ----------------------------------------------------------------------------

HIGHLIGHT_FILL = "#fde9b6"  # the nodes whose gradient the current step just filled


def _escape(text: str) -> str:
    """Text safe inside a quoted record label: a backslash before each character Graphviz reads."""
    text = text.replace("\\", "\\\\").replace("\n", " ")
    for ch in '"{}|<>':
        text = text.replace(ch, "\\" + ch)
    return text


def to_dot(root: Value, grads: dict[int, float] | None = None, highlight=(),
           active: Value | None = None) -> str:
    """The graph as Graphviz DOT source, left to right: each Value a box of label, data and grad, each
    operation a small ellipse between its inputs and its output.

    grads: shown instead of each node's .grad (a step of backward_steps); a node missing from it
    shows "grad ?". highlight: Values filled in HIGHLIGHT_FILL. active: drawn with a bold outline.
    """
    order = topological_order(root)
    index = {id(v): i for i, v in enumerate(order)}  # stable node ids: n0, n1, ... and op0, op1, ...
    filled = {id(v) for v in highlight}
    lines = ["digraph {", "  rankdir=LR;", '  node [fontname="Helvetica", fontsize=14];']
    for i, v in enumerate(order):
        grad = v.grad if grads is None else grads.get(id(v))
        grad_text = "?" if grad is None else f"{grad:.4f}"
        style = f', style=filled, fillcolor="{HIGHLIGHT_FILL}"' if id(v) in filled else ""
        style += ", penwidth=3" if v is active else ""
        # in a left-to-right graph a record's fields stack top to bottom: narrow boxes, readable text
        record = f"{_escape(v.label)} | data {v.data:.4f} | grad {grad_text}"
        lines.append(f'  n{i} [shape=record, label="{record}"{style}];')
        if v.children:  # input -> op -> output
            lines.append(f'  op{i} [shape=ellipse, label="{_escape(v.op)}", fontsize=13, margin=0.02];')
            lines.append(f"  op{i} -> n{i};")
            lines.extend(f"  n{index[id(child)]} -> op{i};" for child in v.children)
    lines.append("}")
    return "\n".join(lines)


# --- the lecture's expressions, checked two other ways -----------------------------------------

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


# --- micrograd's nn: a tiny MLP on the engine ---------------------------------------------------

class Neuron:
    """tanh(w · x + b), with weights and bias drawn uniform in (-1, 1)."""

    def __init__(self, n_inputs: int, rng: random.Random, nonlinear: bool = True):
        self.w = [Value(rng.uniform(-1, 1)) for _ in range(n_inputs)]
        self.b = Value(rng.uniform(-1, 1))
        self.nonlinear = nonlinear

    def __call__(self, xs) -> Value:
        act = sum((wi * xi for wi, xi in zip(self.w, xs)), self.b)
        return act.tanh() if self.nonlinear else act

    def parameters(self) -> list[Value]:
        return self.w + [self.b]


class Layer:
    """n_outputs neurons, each looking at the same inputs."""

    def __init__(self, n_inputs: int, n_outputs: int, rng: random.Random, nonlinear: bool = True):
        self.neurons = [Neuron(n_inputs, rng, nonlinear) for _ in range(n_outputs)]

    def __call__(self, xs):
        outs = [neuron(xs) for neuron in self.neurons]
        return outs[0] if len(outs) == 1 else outs

    def parameters(self) -> list[Value]:
        return [p for neuron in self.neurons for p in neuron.parameters()]


class MLP:
    """Layers of tanh neurons, as in the lecture: with targets of +-1, a tanh output fits them."""

    def __init__(self, n_inputs: int, sizes: list[int], seed: int = 0):
        rng = random.Random(seed)
        widths = [n_inputs] + list(sizes)
        self.layers = [Layer(widths[i], widths[i + 1], rng) for i in range(len(sizes))]

    def __call__(self, xs):
        for layer in self.layers:
            xs = layer(xs)
        return xs

    def parameters(self) -> list[Value]:
        return [p for layer in self.layers for p in layer.parameters()]


# the lecture's toy data set: 4 examples of 3 inputs, each with a target of +1 or -1
TOY_XS = [[2.0, 3.0, -1.0], [3.0, -1.0, 0.5], [0.5, 1.0, 1.0], [1.0, 1.0, -1.0]]
TOY_YS = [1.0, -1.0, -1.0, 1.0]
MAX_TOY_STEPS = 1000  # pure-Python steps: 1000 of the default net take about half a second
MAX_TOY_WIDTH = 16  # neurons per layer: 1000 steps of the largest net allowed take about 10 s
MAX_TOY_LAYERS = 4


@dataclass
class ToyRun:
    losses: list[float]  # sum of squared errors over the 4 examples, before each step
    predictions: list[list[float]]  # the 4 outputs before each step
    n_params: int


def train_toy(steps: int = 20, lr: float = 0.05, seed: int = 0, sizes: tuple = (4, 4, 1)) -> ToyRun:
    """Plain gradient descent on the toy data: forward all 4, loss, zero grads, backward, update."""
    if not 0 <= steps <= MAX_TOY_STEPS:
        raise ValueError(f"steps must be between 0 and {MAX_TOY_STEPS}, got {steps}")
    widths_ok = all(1 <= size <= MAX_TOY_WIDTH for size in sizes)
    if not (1 <= len(sizes) <= MAX_TOY_LAYERS and widths_ok and sizes[-1] == 1):
        raise ValueError(f"sizes must be 1 to {MAX_TOY_LAYERS} layers of 1 to {MAX_TOY_WIDTH} neurons, "
                         f"the last of 1 (one output per example), got {sizes}")
    model = MLP(len(TOY_XS[0]), list(sizes), seed)
    params = model.parameters()
    losses, predictions = [], []
    for _ in range(steps):
        ypred = [model(xs) for xs in TOY_XS]
        loss = sum((yout - ygt) ** 2 for ygt, yout in zip(TOY_YS, ypred))
        losses.append(loss.data)
        predictions.append([y.data for y in ypred])
        for p in params:
            p.grad = 0.0  # backward() adds into .grad: without this, old gradients pile up
        loss.backward()
        for p in params:
            p.data -= lr * p.grad
    return ToyRun(losses, predictions, len(params))
