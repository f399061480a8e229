"""The scalar engine's graph as Graphviz DOT: every value and operation drawn, a step's gradients
and highlights shown, labels escaped."""

import re

from makemore.lesson.backward_steps import backward_steps
from makemore.lesson.engine import Value, topological_order
from makemore.lesson.engine_graph import HIGHLIGHT_FILL, to_dot
from makemore.lesson.expressions import EXPRESSIONS, leaves


def node_line(dot, node_id):
    return next(line for line in dot.splitlines() if line.strip().startswith(f"{node_id} ["))


def record_fields(dot, node_id):
    """The fields of a record node's label, split where Graphviz splits them (unescaped |)."""
    line = node_line(dot, node_id)
    label = re.search(r'label="((?:[^"\\]|\\.)*)"', line).group(1)
    return [field.strip() for field in re.split(r"(?<!\\)\|", label)]


def test_to_dot_draws_every_value_and_one_op_node_per_operation():
    expression = EXPRESSIONS["neuron"]
    root = expression.build(expression.inputs)
    root.backward()
    dot = to_dot(root)
    assert dot.startswith("digraph") and "rankdir=LR" in dot
    order = topological_order(root)
    for i, v in enumerate(order):
        assert record_fields(dot, f"n{i}") == [v.label, f"data {v.data:.4f}", f"grad {v.grad:.4f}"]
    op_nodes = re.findall(r"^\s*(op\d+) \[.*label=\"([^\"]*)\"", dot, re.M)
    assert len(op_nodes) == sum(1 for v in order if v.children) == 5
    assert sorted(op for _, op in op_nodes) == ["*", "*", "+", "+", "tanh"]
    # input -> op -> output: o = tanh(n)
    n, o = order.index(root.children[0]), len(order) - 1
    assert f"n{n} -> op{o};" in dot and f"op{o} -> n{o};" in dot
    assert dot == to_dot(root)  # stable ids


def test_to_dot_shows_a_steps_grads_highlight_and_active_node():
    expression = EXPRESSIONS["lecture-L"]
    root = expression.build(expression.inputs)
    step = backward_steps(root)[1]  # L passes its gradient to d and f
    filled = [c[0] for c in step.contributions]
    dot = to_dot(root, grads=step.grads, highlight=filled, active=step.node)
    order = topological_order(root)
    for i, v in enumerate(order):
        grad_field = record_fields(dot, f"n{i}")[2]
        assert grad_field == ("grad ?" if id(v) not in step.grads else f"grad {step.grads[id(v)]:.4f}")
        assert (HIGHLIGHT_FILL in node_line(dot, f"n{i}")) == (v in filled)
        assert ("penwidth" in node_line(dot, f"n{i}")) == (v is root)
    assert record_fields(dot, f"n{order.index(leaves(root)['a'])}")[2] == "grad ?"  # not reached yet
    before_any_step = to_dot(root, grads={})
    assert all(record_fields(before_any_step, f"n{i}")[2] == "grad ?" for i in range(len(order)))


def test_to_dot_escapes_labels_that_graphviz_would_misread():
    nasty = 'a|b{c}<d>"e\\'
    root = Value(1.0, label=nasty) * 2
    dot = to_dot(root)
    fields = record_fields(dot, "n0")
    assert len(fields) == 3 and fields[1:] == ["data 1.0000", "grad 0.0000"]
    assert re.sub(r"\\(.)", r"\1", fields[0]) == nasty  # unescaped, the label comes back whole
    assert dot.count("{") - dot.count("\\{") == dot.count("}") - dot.count("\\}")


def test_an_empty_label_shows_an_empty_field():
    dot = to_dot(Value(2.0) + 1)
    assert record_fields(dot, "n0") == ["", "data 2.0000", "grad 0.0000"]
