"""The backprop lesson (lectures 1 and 4): a scalar autograd engine as in micrograd (engine), its
graph (engine_graph), its backward pass step by step (backward_steps), the lecture's expressions
checked against PyTorch (expressions), micrograd's tiny MLP (scalar_nn), and every gradient of the
MLP with BatchNorm written by hand (backprop)."""
