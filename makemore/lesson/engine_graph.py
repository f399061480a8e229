"""The scalar engine's graph as Graphviz DOT source, for st.graphviz_chart (no system Graphviz).

Left to right, as in the lecture's drawings: each Value a box of its label, data and grad, each
operation a small ellipse between its inputs and its output. A step of makemore/lesson/backward_steps.py
can be drawn by passing its grads (unreached nodes show "grad ?") and highlighting what it filled.
"""

from __future__ import annotations

from makemore.lesson.engine import Value, topological_order

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
