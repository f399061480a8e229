"""Lecture 1 (micrograd): the scalar autograd engine, Value and its backward pass. Gradients are
checked against the lecture's numbers, and random expressions against PyTorch (float64) with
hypothesis."""

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from makemore.lesson.engine import Value, topological_order
from makemore.lesson.expressions import EXPRESSIONS, Expression, leaves, torch_grads


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
