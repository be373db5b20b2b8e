"""Cheap trial functions for the scheduling tests, in a module that does not import TensorFlow: spawned worker
processes and Ray workers import it, and should take milliseconds, not TensorFlow's seconds, to start."""

import os


def square_trial(params: dict) -> dict:
    """Records which process ran it."""
    return {"square": params["x"] ** 2, "pid": os.getpid()}


def failing_trial(params: dict) -> dict:
    if params["x"] == 2:
        raise RuntimeError("trial 2 broke")
    return {"square": params["x"] ** 2}
