"""A scalar autograd engine, as in lecture 1 ("micrograd"), written for reading.

Every `Value` remembers the operation that made it, its inputs (children), and the local derivative
of itself with respect to each input, computed right away in the forward pass:

    c = a * b        c.children == (a, b)    c.local_grads == (b.data, a.data)

`backward()` then applies the chain rule from the output back: walking the graph in reverse
topological order, each node adds local derivative x its own gradient into each input's gradient.
Adding (not assigning) is what makes a value used twice get both contributions.

Where micrograd keeps a `_backward` closure per node, we keep the numbers themselves, so a page can
show every step of the backward pass as "local derivative x upstream gradient". Plain Python, no
torch. Built on it, one job per module:

    makemore/lesson/backward_steps.py  the backward pass recorded one node at a time, for replaying it
    makemore/lesson/engine_graph.py    the graph as Graphviz DOT source
    makemore/lesson/expressions.py     the lecture's expressions, checked against PyTorch and finite differences
    makemore/lesson/scalar_nn.py       micrograd's tiny MLP and the lecture's four toy examples
"""

from __future__ import annotations

import math


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
