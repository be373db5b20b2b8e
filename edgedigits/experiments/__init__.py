"""Experiments built on the training half: model comparisons and sweeps. Never imported by edgedigits.training."""
