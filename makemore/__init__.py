"""makemore: character-level language models, from bigram counts to transformers, in plain PyTorch.

The package behind the makemore playground app. It never imports streamlit, so everything here
works the same from tests, notebooks and the command line (`python -m makemore --help`).
"""
