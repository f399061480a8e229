"""Lecture 1 (micrograd): the scalar autograd engine, its step-by-step backward pass, the graph it
draws, and the tiny MLP trained on it. Gradients are checked against the lecture's numbers, PyTorch
(float64) and finite differences; random expressions are checked with hypothesis."""

import math
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from makemore.engine import (
    EXPRESSIONS,
    HIGHLIGHT_FILL,
    MLP,
    TOY_XS,
    Expression,
    Layer,
    Value,
    backward_steps,
    leaves,
    numerical_grads,
    to_dot,
    topological_order,
    torch_grads,
    train_toy,
)


def engine_grads(expression, inputs):
    root = expression.build(inputs)
    root.backward()
    found = leaves(root)
    return {name: found[name].grad if name in found else 0.0 for name in inputs}


def built(name):
    expression = EXPRESSIONS[name]
    root = expression.build(expression.inputs)
    root.backward()
    nodes = {v.label: v for v in topological_order(root) if v.label}
    return root, nodes


# --- the lecture's numbers ------------------------------------------------------------------------

def test_the_lecture_neuron_gives_the_lecture_output_and_gradients():
    root, nodes = built("neuron")
    assert root.data == pytest.approx(0.7071, abs=1e-4)
    assert nodes["n"].data == pytest.approx(0.8814, abs=1e-4)
    expected = {"o": 1.0, "n": 0.5, "b": 0.5, "x1": -1.5, "w1": 1.0, "x2": 0.5, "w2": 0.0}
    assert {label: nodes[label].grad for label in expected} == pytest.approx(expected, abs=1e-12)


def test_the_neuron_with_tanh_written_out_gives_the_same_gradients():
    _, nodes = built("neuron")
    root, nodes_exp = built("neuron-exp")
    assert root.data == pytest.approx(nodes["o"].data, abs=1e-12)
    for label in ("x1", "x2", "w1", "w2", "b", "n"):
        assert nodes_exp[label].grad == pytest.approx(nodes[label].grad, abs=1e-12)
    assert nodes_exp["e"].op == "exp" and nodes_exp["1/(e + 1)"].op == "**-1"


def test_the_lecture_L_example():
    root, nodes = built("lecture-L")
    assert root.data == -8.0
    grads = {label: nodes[label].grad for label in "abcdefL"}
    assert grads == dict(a=6.0, b=-4.0, c=-2.0, d=-2.0, e=-2.0, f=4.0, L=1.0)


def test_gradients_accumulate_for_a_node_used_more_than_once():
    _, nodes = built("reuse")  # f = (a*b) * (a+b) at a=-2, b=3: df/da = b(a+b) + ab = -3
    assert (nodes["a"].grad, nodes["b"].grad) == (-3.0, -8.0)
    a = Value(3.0)
    b = a + a  # micrograd's bug before += : a.grad came out 1
    b.backward()
    assert a.grad == 2.0


def test_backward_adds_into_existing_gradients_so_they_must_be_zeroed_between_passes():
    a = Value(3.0)
    b = a * 2
    b.backward()
    b.backward()
    assert a.grad == 4.0


def test_every_operation_and_plain_numbers_on_either_side():
    a, b = Value(2.0), Value(-4.0)
    assert (a + 1).data == 3.0 and (1 + a).data == 3.0
    assert (a - 5).data == -3.0 and (5 - a).data == 3.0
    assert (3 * a).data == 6.0 and (a * 3).data == 6.0
    assert (a / 4).data == 0.5 and (4 / a).data == 2.0
    assert (-a).data == -2.0 and (a**3).data == 8.0 and (a**0.5).data == pytest.approx(math.sqrt(2))
    assert b.relu().data == 0.0 and a.relu().data == 2.0
    assert a.exp().data == pytest.approx(math.exp(2)) and a.tanh().data == pytest.approx(math.tanh(2))
    c = a * b
    assert (c.op, c.children, c.local_grads) == ("*", (a, b), (-4.0, 2.0))
    assert (a**3).op == "**3" and (a**3).local_grads == (12.0,)
    assert b.relu().local_grads == (0.0,) and a.relu().local_grads == (1.0,)
    with pytest.raises(TypeError):
        a ** Value(2.0)


def test_repr_shows_data_and_grad():
    assert repr(Value(0.5)) == "Value(data=0.5, grad=0)"


def test_topological_order_lists_each_node_once_inputs_first_root_last():
    root = EXPRESSIONS["reuse"].build(EXPRESSIONS["reuse"].inputs)
    order = topological_order(root)
    assert order[-1] is root
    assert len(order) == len({id(v) for v in order}) == 5  # a, b, d, e, f: a and b only once
    position = {id(v): i for i, v in enumerate(order)}
    for v in order:
        assert all(position[id(child)] < position[id(v)] for child in v.children)


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


# --- random expressions (hypothesis) --------------------------------------------------------------

BINARY = ["+", "-", "*", "/", "**int", "**float"]
UNARY = ["neg", "tanh", "exp", "relu"]


def away_from_zero(x):
    """x itself if |x| >= 0.5, else shifted to 1 <= |x| < 1.5 (a divisor, a negative power's base)."""
    data = x.data if isinstance(x, Value) else x
    return x if abs(data) >= 0.5 else x + (1.0 if data >= 0 else -1.0)


def evaluate(tree, xs):
    """Build a tree of ("x", i) / ("const", c) / (op, *args) on the Values xs, keeping every value
    in a safe range: no division by ~0, float powers of positive bases only, no exp overflow."""
    kind = tree[0]
    if kind == "x":
        return xs[tree[1] % len(xs)]
    if kind == "const":
        return tree[1]
    if kind in UNARY or kind.startswith("**"):
        x = evaluate(tree[1], xs)
        x = x if isinstance(x, Value) else Value(x)
        if kind == "neg":
            out = -x
        elif kind == "exp":
            out = (x if abs(x.data) <= 3 else x.tanh() * 3).exp()
        elif kind == "**int":
            out = (away_from_zero(x) if tree[2] < 0 else x) ** tree[2]
        elif kind == "**float":  # on a positive base
            out = (x if x.data >= 0.5 else x.tanh() + 1.5) ** tree[2]
        else:
            out = getattr(x, kind)()
    else:
        a, b = evaluate(tree[1], xs), evaluate(tree[2], xs)
        if not isinstance(a, Value) and not isinstance(b, Value):
            a = Value(a)  # two plain numbers would make a plain number
        if kind == "+":
            out = a + b
        elif kind == "-":
            out = a - b
        elif kind == "*":
            out = a * b
        else:
            out = a / away_from_zero(b)
    if abs(out.data) > 10:  # keep magnitudes small, so rounding stays far below the tolerance
        out = out.tanh() * 10
    return out


leaf_trees = st.one_of(
    st.tuples(st.just("x"), st.integers(0, 3)),
    st.tuples(st.just("x"), st.integers(0, 3)),  # inputs twice as likely as constants
    st.tuples(st.just("const"), st.floats(-3, 3)),
)


def extend(children):
    return st.one_of(
        st.tuples(st.sampled_from(UNARY), children),
        st.tuples(st.sampled_from(["+", "-", "*", "/"]), children, children),
        st.tuples(st.just("**int"), children, st.sampled_from([-2, -1, 1, 2, 3])),
        st.tuples(st.just("**float"), children, st.floats(-2.5, 2.5)),
    )


trees = st.recursive(leaf_trees, extend, max_leaves=10)
input_values = st.lists(st.floats(-3, 3), min_size=1, max_size=4)


@settings(max_examples=300, deadline=None)
@given(tree=trees, values=input_values)
def test_random_expressions_match_torch_float64_autograd(tree, values):
    names = [f"x{i}" for i in range(len(values))]

    def build(inputs):
        out = evaluate(tree, [Value(inputs[name], label=name) for name in names])
        return out if isinstance(out, Value) else Value(out)

    expression = Expression("random", "", dict(zip(names, values)), build)
    ours = engine_grads(expression, expression.inputs)
    theirs = torch_grads(expression, expression.inputs)
    for name in names:
        assert math.isclose(ours[name], theirs[name], rel_tol=1e-9, abs_tol=1e-12), (name, ours, theirs)


def test_the_random_expressions_use_every_operation():
    tree = ("+", ("/", ("exp", ("x", 0)), ("x", 1)),
            ("-", ("**int", ("tanh", ("x", 1)), 2),
             ("*", ("const", 3.0), ("**float", ("neg", ("relu", ("x", 0))), 1.5))))
    ops = {v.op for v in topological_order(evaluate(tree, [Value(0.3), Value(-0.7)]))}
    assert ops == {"", "+", "*", "**-1", "exp", "tanh", "**2", "relu", "**1.5"}


# --- the backward pass step by step ---------------------------------------------------------------

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


# --- the graph as DOT -----------------------------------------------------------------------------

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


# --- micrograd's MLP on the toy data --------------------------------------------------------------

def test_the_mlp_has_the_lectures_41_parameters_and_one_output():
    import random
    model = MLP(3, [4, 4, 1])
    assert len(model.parameters()) == 41 == train_toy(steps=1).n_params
    out = model(TOY_XS[0])
    assert isinstance(out, Value) and -1 < out.data < 1
    layer = Layer(3, 2, random.Random(0))
    assert len(layer(TOY_XS[0])) == 2
    assert all(-1 <= p.data <= 1 for p in model.parameters())


def test_train_toy_drives_the_loss_down():
    run = train_toy(steps=100, lr=0.05)
    assert len(run.losses) == len(run.predictions) == 100
    assert all(after < before for before, after in zip(run.losses, run.losses[1:]))
    assert run.losses[-1] < 0.01 * run.losses[0]  # 7.73 -> 0.0054
    assert run.predictions[-1] == pytest.approx([1.0, -1.0, -1.0, 1.0], abs=0.1)
    first = sum((p - y) ** 2 for p, y in zip(run.predictions[0], [1.0, -1.0, -1.0, 1.0]))
    assert run.losses[0] == pytest.approx(first)


def test_train_toy_is_reproducible_by_seed():
    assert train_toy(steps=5, seed=3).losses == train_toy(steps=5, seed=3).losses
    assert train_toy(steps=5, seed=3).losses != train_toy(steps=5, seed=4).losses


def test_train_toy_refuses_what_a_page_should_not_ask_for():
    with pytest.raises(ValueError, match="steps"):
        train_toy(steps=1001)
    with pytest.raises(ValueError, match="steps"):
        train_toy(steps=-1)
    with pytest.raises(ValueError, match="sizes"):
        train_toy(sizes=(4, 2))
    with pytest.raises(ValueError, match="sizes"):
        train_toy(sizes=(1000, 1))
