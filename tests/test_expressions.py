"""The lecture's expressions for the scalar engine: every one labelled, its inputs found as
leaves, and its gradients checked against PyTorch (float64) and finite differences, checks that
catch a wrong local derivative."""

import math

import pytest

from makemore.lesson.engine import Value, topological_order
from makemore.lesson.expressions import EXPRESSIONS, leaves, numerical_grads, torch_grads


def engine_grads(expression, inputs):
    root = expression.build(inputs)
    root.backward()
    found = leaves(root)
    return {name: found[name].grad if name in found else 0.0 for name in inputs}


def test_leaves_are_the_labelled_inputs_not_the_constants():
    root = EXPRESSIONS["neuron-exp"].build(EXPRESSIONS["neuron-exp"].inputs)
    assert set(leaves(root)) == {"x1", "x2", "w1", "w2", "b"}
    assert any(not v.children and not v.label for v in topological_order(root))  # the 2 in e^{2n}


# --- every expression, checked against PyTorch and finite differences ---------------------------

@pytest.mark.parametrize("name", list(EXPRESSIONS))
def test_engine_gradients_match_torch_and_finite_differences(name):
    expression = EXPRESSIONS[name]
    ours = engine_grads(expression, expression.inputs)
    assert set(ours) == set(expression.inputs)
    assert torch_grads(expression, expression.inputs) == pytest.approx(ours, rel=1e-9, abs=1e-12)
    assert numerical_grads(expression, expression.inputs) == pytest.approx(ours, abs=1e-5)


@pytest.mark.parametrize("name", list(EXPRESSIONS))
def test_every_expression_labels_its_inputs_and_intermediates(name):
    expression = EXPRESSIONS[name]
    root = expression.build(expression.inputs)
    assert set(leaves(root)) == set(expression.inputs)
    assert all(v.label for v in topological_order(root) if v.children)
    assert expression.title and expression.latex


def test_the_checks_catch_a_wrong_local_derivative(monkeypatch):
    expression = EXPRESSIONS["neuron"]
    monkeypatch.setattr(Value, "tanh", lambda self: Value(math.tanh(self.data), (self,), "tanh", (1.0,)))
    ours = engine_grads(expression, expression.inputs)
    assert ours["b"] == 1.0
    assert numerical_grads(expression, expression.inputs)["b"] == pytest.approx(0.5, abs=1e-6)
    assert torch_grads(expression, expression.inputs)["b"] == pytest.approx(0.5, abs=1e-12)
