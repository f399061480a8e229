"""The scalar engine's backward pass, recorded one node at a time, so a page can replay it.

`Value.backward()` (makemore/lesson/engine.py) runs the whole pass at once. `backward_steps` runs the same
pass, in the same reverse topological order, and keeps after each node what it passed back to each
input: local derivative d node / d input, upstream gradient node.grad, and their product, added into
the input's gradient (the chain rule, one multiplication at a time).
"""

from __future__ import annotations

from dataclasses import dataclass

from makemore.lesson.engine import Value, topological_order


@dataclass
class BackwardStep:
    node: Value  # the node whose gradient is passed back to its inputs in this step
    # (input, local derivative d node / d input, upstream = node.grad, product added to input.grad)
    contributions: list[tuple[Value, float, float, float]]
    grads: dict[int, float]  # every reached node's grad right after this step, keyed by id(node)


def backward_steps(root: Value) -> list[BackwardStep]:
    """The backward pass, recorded one node at a time, for a page that replays it.

    Every grad is reset to 0; step 0 sets the root's grad to 1, then each non-leaf node in reverse
    topological order passes its (by then complete) gradient back to its inputs. A node missing
    from a step's grads has not been reached yet. Afterwards every .grad is what backward() gives.
    """
    order = topological_order(root)
    for node in order:
        node.grad = 0.0
    root.grad = 1.0
    reached = {id(root): root}
    steps = [BackwardStep(root, [], {id(root): 1.0})]
    for node in reversed(order):
        if not node.children:
            continue
        contributions = []
        for child, local_grad in zip(node.children, node.local_grads):
            product = local_grad * node.grad
            child.grad += product
            contributions.append((child, local_grad, node.grad, product))
            reached[id(child)] = child
        steps.append(BackwardStep(node, contributions, {key: v.grad for key, v in reached.items()}))
    return steps
