"""LiveSense-Tiny training: curriculum, cached data, trainer, DDP recipe (see scripts/train_tiny.py)."""
