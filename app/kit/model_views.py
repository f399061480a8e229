"""Views into a trained model, for any page whose model has them: the embedding table as a
labelled scatter with each character's nearest neighbours, and the diagnostics recorded while it
trained (makemore.diagnostics: activations, gradients and update ratios per layer, at a chosen step)."""

from __future__ import annotations

import pandas as pd
import streamlit as st
import torch

import charts
from makemore.data import Vocab
from makemore.diagnostics import SNAPSHOTS
from makemore.models.mlp import nearest, project_2d
from kit.widgets import show_table


def show_embeddings(C: torch.Tensor, vocab: Vocab) -> None:
    """The embedding table C (V, n_embd) in 2-D (the table itself, or its first two principal
    components) beside each character's three nearest neighbours."""
    coords, method, share = project_2d(C)
    distances, neighbours = nearest(C, k=3)
    itos = vocab.itos
    points = pd.DataFrame({
        "char": itos,
        "x": coords[:, 0].numpy(),
        "y": coords[:, 1].numpy(),
        "nearest": [", ".join(itos[j] for j in row) for row in neighbours.tolist()],
    })
    axis = ("dimension 1", "dimension 2") if method.startswith("the two") else ("component 1", "component 2")
    left, right = st.columns([3, 2])
    left.altair_chart(charts.embedding_scatter(points, *axis), width="stretch")
    n_embd = C.shape[1]
    with right:
        st.markdown(
            f"Each character is a point: {method}"
            + (f", which show {share:.0%} of the spread of the {n_embd}-dimensional table." if n_embd > 2 else ".")
            + f" `{vocab.boundary}` marks the start and end of a word. Characters that can follow the same "
            "contexts drift together (the vowels often form a group); rare ones stay apart."
        )
        show_table(pd.DataFrame({
            "character": itos,
            "nearest (distance)": [", ".join(f"{itos[j]} ({d:.2f})" for j, d in zip(js, ds))
                                   for js, ds in zip(neighbours.tolist(), distances.tolist())],
        }), max_height=360)


def bins_frame(kind: str, step: int, d: dict) -> pd.DataFrame:
    """One histogram per layer at recorded step index `step`, as shares of the layer's values."""
    edges = d["activation_edges"] if kind == "act" else d["grad_edges"][step]
    centres = [(a + b) / 2 for a, b in zip(edges, edges[1:])]
    frames = []
    for j, layer in enumerate(d["layers"]):
        counts = d[f"{kind}_hist"][step][j]
        total = sum(counts) or 1
        if kind == "act":
            summary = (f"mean {d['act_mean'][step][j]:+.3f} · std {d['act_std'][step][j]:.3f} · "
                       f"{d['saturation'][step][j]:.1%} saturated")
        else:
            summary = f"std {d['grad_std'][step][j]:.3g}"
        frames.append(pd.DataFrame({"layer": layer, "value": centres, "share": [c / total for c in counts],
                                    "summary": summary}))
    return pd.concat(frames, ignore_index=True)


def show_diagnostics(d: dict | None, key: str) -> bool:
    """A TrainResult's diagnostics record: a step slider (widget key `key`), then the activations and
    gradients of each tanh layer, saturation, std(grad)/std(W) and the update ratios over the run.
    Returns False (after saying so) when the run recorded nothing."""
    if not d or not d["steps"]:
        st.info("This run stopped before its first step: nothing was recorded.")
        return False
    recorded = d["steps"]
    step = st.select_slider("Show the network at step", recorded, recorded[0], key=key,
                            help=f"Recorded at the first step (the network as initialised) and at {SNAPSHOTS} steps "
                            "across the run. Move it to see the statistics evolve.")
    i = recorded.index(step)
    st.caption(f"At step {step:,}: the forward pass of that step's batch, and the gradients of its backward pass.")

    left, right = st.columns([3, 2])
    left.altair_chart(charts.layer_histograms(bins_frame("act", i, d), "tanh output",
                                              "Activations of each tanh layer"), width="stretch")
    layers = pd.DataFrame({"layer": d["layers"], "saturation": d["saturation"][i], "mean": d["act_mean"][i],
                           "std": d["act_std"][i]})
    right.altair_chart(charts.saturation_bars(layers, d["saturated_above"]), width="stretch")
    st.caption("Healthy: every layer spread over (−1, 1) with a similar std and few values at ±1. A saturated unit "
               "passes almost no gradient back (tanh's derivative is 1 − tanh², near 0 at ±1); a layer squeezed "
               "towards 0 behaves like a linear layer.")

    left, right = st.columns([3, 2])
    left.altair_chart(charts.layer_histograms(bins_frame("grad", i, d), "gradient of the loss w.r.t. the tanh output",
                                              "Gradients flowing back into each tanh layer"), width="stretch")
    weights = pd.DataFrame({"weight": d["weights"], "ratio": d["grad_data"][i]}).dropna()
    right.altair_chart(charts.grad_data_ratios(weights[weights["ratio"] > 0]), width="stretch")
    st.caption("Healthy: the gradient histograms of all layers about as wide as each other (none shrinking or "
               "exploding with depth), and gradients small next to the weights they update (ratios around 10⁻³ to "
               "10⁻²). A ratio far above the rest trains that weight much faster than the others.")

    updates = pd.DataFrame([(s, w, v) for s, row in zip(recorded, d["update_data"]) for w, v in zip(d["weights"], row)],
                           columns=["step", "weight", "log_ratio"]).dropna()
    st.altair_chart(charts.update_ratios(updates, step), width="stretch")
    st.caption("How big each step's change is next to the weights themselves, on a log scale. The lecture's rule of "
               "thumb for SGD: around −3 (each step changes a weight by about a thousandth). Far below, the net "
               "learns too slowly; far above, it is jumping around. AdamW's steps are about the learning rate for "
               "every weight, so its lines sit higher and fall with the cosine decay.")

    with st.expander("The numbers behind these charts, per layer"):
        show_table(layers.assign(**{"grad std": d["grad_std"][i]}).round(4))
    return True
