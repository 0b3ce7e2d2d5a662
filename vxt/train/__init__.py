"""Training: the loop, checkpoints and resume, distributed (DDP) training."""
