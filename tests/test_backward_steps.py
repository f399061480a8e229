"""The scalar engine's backward pass recorded step by step: the same gradients as backward(), in
the same order, each step's contributions local derivative x upstream gradient."""

import pytest

from makemore.lesson.backward_steps import backward_steps
from makemore.lesson.engine import Value, topological_order
from makemore.lesson.expressions import EXPRESSIONS


@pytest.mark.parametrize("name", list(EXPRESSIONS))
def test_backward_steps_replay_the_backward_pass(name):
    expression = EXPRESSIONS[name]
    root = expression.build(expression.inputs)
    order = topological_order(root)
    root.backward()
    expected = {id(v): v.grad for v in order}

    steps = backward_steps(root)
    assert {id(v): v.grad for v in order} == expected  # reset first, so not doubled
    assert steps[-1].grads == expected
    assert steps[0].node is root and steps[0].contributions == [] and steps[0].grads == {id(root): 1.0}
    assert [step.node for step in steps[1:]] == [v for v in reversed(order) if v.children]
    for step in steps[1:]:
        assert [c[0] for c in step.contributions] == list(step.node.children)
        for child, local, upstream, product in step.contributions:
            assert upstream == step.grads[id(step.node)]
            assert product == local * upstream
    for before, after in zip(steps, steps[1:]):
        assert set(before.grads) <= set(after.grads)


def test_backward_steps_give_a_reused_node_two_contributions_that_add_up():
    a = Value(3.0, label="a")
    b = a + a
    steps = backward_steps(b)
    assert len(steps) == 2
    assert [(c[0], c[3]) for c in steps[1].contributions] == [(a, 1.0), (a, 1.0)]
    assert steps[1].grads[id(a)] == a.grad == 2.0
