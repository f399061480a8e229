"""How the app runs trainings for its visitors (the training loop itself is makemore/train.py): the
trained models and the job board every visitor shares, and whose runs are this session's (shared);
a background training's live view (live); several missing runs trained with one button (missing);
the server's start-up work, which fills the shared caches and never trains (warmup)."""
