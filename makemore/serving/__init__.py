"""Serving trained models to many visitors: the one model-file format (checkpoint), the disk cache
and load-or-train (cache), trainings in child processes with progress, sharing, a queue and honest
failures (jobs, forkserver_warmup), and the models that ship with the repository (pretrain)."""
