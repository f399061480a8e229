"""Stage 4: backpropagation, from a scalar autograd engine (micrograd) to every gradient of the MLP
with BatchNorm written by hand and checked against PyTorch (lectures 1 and 4)."""

import pandas as pd
import streamlit as st
import torch

import charts
from kit.datasets_ui import current_dataset
from kit.sections import deeper_views, outline
from kit.widgets import show_source, show_table, smoothed_history
from makemore.lesson import backprop, engine, engine_graph, expressions, scalar_nn
from makemore.lesson.backprop import BackpropConfig
from makemore.lesson.backward_steps import backward_steps

BATCH_SIZES = (8, 16, 32, 64, 128, 256)  # from backprop.MIN_BATCH_SIZE: below it rounding alone fails the check
HIDDEN = (16, 32, 64, 128, 256)
CHECK_STEPS = (100, 200, 500, 1000, 2000)
PARTS = ["1 · A scalar autograd engine", "2 · The MLP with BatchNorm, by hand", "How it works"]
TOY_STEPS = 200  # the tiny network's slider stops here: pure Python, a few ms a step


@st.cache_data(max_entries=64, show_spinner=False)
def toy_run(steps: int, lr: float, seed: int) -> scalar_nn.ToyRun:
    return scalar_nn.train_toy(steps=steps, lr=lr, seed=seed)


@st.cache_data(max_entries=32, show_spinner=False)
def comparison(fingerprint: str, config: BackpropConfig, _dataset) -> list[backprop.Comparison]:
    return backprop.compare_all(_dataset, config)


@st.cache_data(max_entries=32, show_spinner="Training twice: with our gradients, then with autograd's…")
def training(fingerprint: str, config: BackpropConfig, steps: int, lr: float, _dataset) -> backprop.TrainingComparison:
    return backprop.train_both(_dataset, config, steps=steps, lr=lr)


def yes(flag: bool) -> str:
    return "✓" if flag else "✗"


def difference(d: float) -> str:
    return f"{d:.1e}" if d else "0"


dataset = current_dataset()

st.title("Backprop: the chain rule, by hand")
st.markdown(
    "Every model so far learned through `loss.backward()`. This page opens it up. First, a tiny "
    "autograd engine for single numbers, as in *micrograd*: build an expression, then watch the "
    "gradient flow back through it one node at a time, each step one multiplication of the chain rule. "
    "Then the real thing: every gradient of the MLP with BatchNorm, written out by hand, checked "
    "number by number against PyTorch, and used to train the network without autograd."
)

outline([], PARTS, views_title=None)
engine_part, by_hand_part, how = deeper_views(PARTS, title=None, note="Two parts, each its own tab: the engine "
                                              "first, then the MLP's gradients by hand.")

# --- part 1: a scalar engine ---------------------------------------------------------------------
with engine_part:
    names = list(expressions.EXPRESSIONS)
    choice = st.selectbox("Expression", names, format_func=lambda n: expressions.EXPRESSIONS[n].title, key="bp_expression")
    expression = expressions.EXPRESSIONS[choice]
    st.latex(expression.latex)
    inputs = {}
    columns = st.columns(len(expression.inputs))
    for column, (name, default) in zip(columns, expression.inputs.items()):
        # the default as given (the lecture's b = 6.8813735870195432 makes o exactly 1/sqrt(2)); the
        # slider then moves in steps of 0.01
        inputs[name] = column.slider(name, -10.0, 10.0, float(default), 0.01, format="%.4f", key=f"bp_{choice}_{name}",
                                     persist_state="session")
    root = expression.build(inputs)
    steps = backward_steps(root)

    st.markdown(
        "**Forward**, the values flow left to right. **Backward**, each node passes its gradient to its "
        "inputs: the gradient of the output with respect to an input is the node's gradient (*upstream*) "
        "times the operation's own derivative (*local*), the chain rule. Walk it step by step:"
    )
    shown = st.slider("Backward pass: step", 0, len(steps), len(steps), key=f"bp_step_{choice}",
                      help="0: the forward pass only, no gradient known yet. Each step passes one node's gradient "
                      "back to its inputs.")
    if shown == 0:
        st.graphviz_chart(engine_graph.to_dot(root, grads={}))
        st.caption("Before the backward pass: every gradient is still unknown (?).")
    else:
        step = steps[shown - 1]
        filled = [contribution[0] for contribution in step.contributions]
        st.graphviz_chart(engine_graph.to_dot(root, grads=step.grads, highlight=filled, active=step.node))
        if not step.contributions:
            st.caption(f"Step 1: the output `{step.node.label}` starts with gradient 1, since "
                       f"d{step.node.label}/d{step.node.label} = 1.")
        else:
            lines = [f"`{child.label or '·'}.grad` += local {local:.4f} × upstream {upstream:.4f} = **{product:.4f}**"
                     for child, local, upstream, product in step.contributions]
            st.markdown(f"Step {shown}: `{step.node.label or '·'}` ({step.node.op}) passes its gradient back "
                        "(bold outline; the inputs it just reached are filled):\n\n" + "\n".join(f"- {l}" for l in lines))

    st.markdown("**Checked three ways**: our engine, PyTorch's autograd on the same expression, and a finite "
                "difference (nudge one input by ±10⁻⁶ and watch the output).")
    ours = {name: leaf.grad for name, leaf in expressions.leaves(root).items()}
    torch_grads = expressions.torch_grads(expression, inputs)
    numerical = expressions.numerical_grads(expression, inputs)
    show_table(pd.DataFrame({
        "input": list(inputs),
        "value": list(inputs.values()),
        "our engine": [ours[n] for n in inputs],
        "PyTorch autograd": [torch_grads[n] for n in inputs],
        "finite difference": [numerical[n] for n in inputs],
        "agree": [yes(abs(ours[n] - torch_grads[n]) <= 1e-9 and abs(ours[n] - numerical[n]) <= 1e-5) for n in inputs],
    }).round(6))

    st.subheader("The same engine trains a network")
    st.markdown(
        "micrograd's small MLP (3 inputs, two hidden layers of 4 tanh neurons, 1 output: 41 parameters, each "
        "a `Value`) learns the lecture's four examples: forward, squared-error loss, `backward()`, then nudge "
        "every parameter against its gradient."
    )
    c1, c2, c3 = st.columns(3)
    toy_steps = c1.slider("Gradient descent steps", 1, TOY_STEPS, 50, key="bp_toy_steps", persist_state="session")
    toy_lr = c2.select_slider("Learning rate", (0.01, 0.02, 0.05, 0.1, 0.2), 0.05, key="bp_toy_lr",
                              persist_state="session")
    toy_seed = c3.number_input("Seed", 0, 1000, 0, key="bp_toy_seed", persist_state="session")
    run = toy_run(toy_steps, toy_lr, int(toy_seed))
    left, right = st.columns([3, 2])
    left.altair_chart(charts.loss_curve(pd.DataFrame({"step": range(len(run.losses)), "loss": run.losses,
                                                      "split": "train"}),
                                        title="Loss on the 4 examples", y_title="sum of squared errors"),
                      width="stretch")
    with right:
        st.markdown("**Targets and predictions** after the last step")
        show_table(pd.DataFrame({"x": [str(x) for x in scalar_nn.TOY_XS], "target": scalar_nn.TOY_YS,
                                 "prediction": run.predictions[-1]}).round(4))
        st.caption(f"{run.n_params} parameters · loss {run.losses[0]:.3f} at the start, {run.losses[-1]:.4f} at the end.")
    show_source(engine.Value, title="The engine's source code")

# --- part 2: the MLP by hand ---------------------------------------------------------------------
with by_hand_part:
    st.markdown(
        "Lecture 4's exercise: the network of lecture 3 (embeddings, a linear layer, BatchNorm, tanh, the "
        "output layer, cross-entropy) with its forward pass cut into small steps, so that every step's "
        "backward pass is one line of calculus. Each gradient below is computed by hand and compared with "
        f"what `loss.backward()` finds, on one minibatch of **{dataset.name}**."
    )
    c1, c2, c3 = st.columns(3)
    batch_size = c1.select_slider("Batch size", BATCH_SIZES, 32, key="bp_batch", persist_state="session")
    n_hidden = c2.select_slider("Hidden width", HIDDEN, 64, key="bp_hidden", persist_state="session")
    seed = c3.number_input("Seed", 0, 1_000_000, 42, key="bp_seed", persist_state="session",
                           help="The initial weights and the minibatch.")
    config = BackpropConfig(n_hidden=n_hidden, batch_size=batch_size, seed=int(seed))
    rows = comparison(dataset.fingerprint, config, dataset)

    matched, exact = sum(r.approx for r in rows), sum(r.exact for r in rows)
    c1, c2, c3 = st.columns(3)
    c1.metric("gradients that match autograd", f"{matched} of {len(rows)}",
              help=f"Within {backprop.TOLERANCE:g} of autograd, element by element.")
    c2.metric("exactly equal", f"{exact} of {len(rows)}",
              help="Bit for bit the same float32 numbers; the others differ only by rounding.")
    c3.metric("largest difference", f"{max(r.max_diff for r in rows):.1e}")


    def formula(name: str) -> str:
        return "$" + backprop.FORMULAS[name].replace("|", r"\vert ") + "$"  # a bare | would split the table


    table = "\n".join(
        f"| `d{r.name}` | {tuple(r.shape)} | {'✓' if r.exact else '≈'} | {yes(r.approx)} | {difference(r.max_diff)} | "
        f"{formula(r.name)} |"
        for r in rows)
    st.markdown("| gradient | shape | exact | approx | max diff | how it is computed |\n|---|---|---|---|---|---|\n"
                + table)
    st.caption("From the loss back to the embedding table, in the order the backward pass reaches them; the "
               "last two are the fused versions, each one expression instead of many small steps. ≈: equal up to "
               "float32 rounding (autograd adds the same numbers in another order), not bit for bit.")

    st.subheader("What the gradient on the logits says")
    params = backprop.init_params(len(dataset.vocab), config)
    X, Y = dataset.examples("train", config.block_size)
    Xb, Yb = backprop.sample_batch(X, Y, config, torch.Generator().manual_seed(config.seed))
    with torch.no_grad():
        _, cache = backprop.forward(params, Xb, Yb)
    dlogits = backprop.cross_entropy_backward(cache["logits"], Yb)
    probs = torch.softmax(cache["logits"], dim=1)
    itos = dataset.vocab.itos
    shown_rows = min(len(Yb), 32)
    cells = pd.DataFrame([(i, itos[j], dlogits[i, j].item(), probs[i, j].item(), itos[Yb[i]])
                          for i in range(shown_rows) for j in range(len(itos))],
                         columns=["example", "char", "grad", "prob", "target"])
    left, right = st.columns([3, 2])
    left.altair_chart(charts.gradient_heatmap(cells, "dlogits for the minibatch"), width="stretch")
    right.markdown(
        r"For cross-entropy the whole chain collapses into one line: $\mathrm{d}\,\text{logits} = "
        r"(\text{softmax}(\text{logits}) - \text{onehot}(y)) / n$. In each row, the right character (blue) is "
        "pulled up by as much as its probability falls short of 1, and every other character (red) is pushed "
        "down by as much probability as it took. Each row sums to zero: the forces balance. As training goes "
        "on, the predictions get better and the pulls weaker."
        + (f"\n\nThe first {shown_rows} of the batch's {len(Yb)} examples are shown." if shown_rows < len(Yb) else "")
    )

    st.subheader("Training with our gradients only")
    c1, c2 = st.columns(2)
    check_steps = c1.select_slider("Steps with both gradients", CHECK_STEPS, 1000, key="bp_check_steps",
                                   persist_state="session")
    check_lr = c2.select_slider("Learning rate", (0.01, 0.05, 0.1, 0.2), 0.1, key="bp_check_lr", persist_state="session")
    both = training(dataset.fingerprint, config, check_steps, check_lr, dataset)
    curves = pd.concat([  # averaged over consecutive steps: the minibatch losses are noisy
        smoothed_history(both.steps, both.autograd, [], max_points=200).assign(run="autograd (loss.backward())"),
        smoothed_history(both.steps, both.manual, [], max_points=200).assign(run="our gradients"),
    ])
    left, right = st.columns([3, 2])
    left.altair_chart(charts.two_runs(curves, "The same network trained twice: the curves lie on top of each other"),
                      width="stretch")
    with right:
        st.metric("largest difference in the loss", f"{both.max_diff:.1e}",
                  help=f"Over all {check_steps:,} steps: the two runs start from the same weights and see the same "
                  "minibatches; only the gradients' arithmetic differs.")
        st.markdown("The second run never calls `loss.backward()`: each step computes every gradient with the "
                    "functions below and moves each weight by −lr × gradient.")

# --- how it works --------------------------------------------------------------------------------
with how:
    st.markdown(r"""
**The chain rule.** If $L$ depends on $x$ only through $y = f(x)$, then
$\frac{\partial L}{\partial x} = \frac{\partial L}{\partial y}\cdot f'(x)$: the gradient arriving from above
(*upstream*) times the operation's own derivative (*local*). Backpropagation applies it at every node, from the
output back to the inputs, in reverse topological order, so each node's gradient is complete before it is passed
on. A value used twice receives a gradient from each use, and they **add up** (the multivariable chain rule).

**Local derivatives.** $a + b$ passes the gradient through unchanged to both; $a \cdot b$ sends $b$ times it to
$a$ and $a$ times it to $b$; $\tanh$ multiplies by $1 - \tanh^2$; $e^x$ by $e^x$; $x^k$ by $k x^{k-1}$.

**Tensors.** The same rules, with shapes: a gradient always has the shape of what it is the gradient of. A sum
over an axis in the forward pass becomes a broadcast in the backward pass, and a broadcast becomes a sum. A
matrix product $Y = XW$ gives $\mathrm{d}X = \mathrm{d}Y\,W^\top$ and $\mathrm{d}W = X^\top \mathrm{d}Y$.
""")
    show_source(backprop.manual_backward, backprop.cross_entropy_backward, backprop.batchnorm_backward,
                title="The backward pass, by hand")
