"""Benchmark of the MLP stage (lecture 2): its rows of the one table (bench/stages.py).

    .venv/bin/python bench/mlp.py

The reference recipe and the page's default side by side from one run: the time each takes to the
reference's loss, the ratio, the final val loss, and the app's loop against a plain loop (steps/s).
Options are bench/stages.py's (--pairs, --markdown, --data).
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import stages  # noqa: E402  (bench/stages.py)

if __name__ == "__main__":
    stages.main(["--only", "mlp", *sys.argv[1:]])
