"""micrograd's tiny MLP on the scalar engine, trained on the lecture's four toy examples."""

import pytest

from makemore.lesson.engine import Value
from makemore.lesson.scalar_nn import TOY_XS, ScalarLayer, ScalarMLP, train_toy


def test_the_mlp_has_the_lectures_41_parameters_and_one_output():
    import random
    model = ScalarMLP(3, [4, 4, 1])
    assert len(model.parameters()) == 41 == train_toy(steps=1).n_params
    out = model(TOY_XS[0])
    assert isinstance(out, Value) and -1 < out.data < 1
    layer = ScalarLayer(3, 2, random.Random(0))
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
