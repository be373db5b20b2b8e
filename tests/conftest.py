import pytest

from edgedigits.runtime import datasets
from edgedigits.training import config


@pytest.fixture
def run_cli(capsys):
    """The CLI in-process: run(*args) -> (exit code, stdout, stderr)."""
    from edgedigits import cli

    def run(*args):
        try:
            cli.main(list(args))
            code = 0
        except SystemExit as exc:
            code = exc.code
        out, err = capsys.readouterr()
        return code, out, err
    return run


@pytest.fixture(scope="session")
def mnist():
    """Real MNIST (60,000 / 10,000), from the cache `make test` fills; the tiny pipelines train on slices of it."""
    return datasets.load("mnist")


def tiny_recipe(tmp_path, **overrides) -> config.Pipeline:
    """A lenet pipeline that trains in seconds on a 2,000-image slice; still scored on all 10,000 test images."""
    raw = {
        "model": "lenet",
        "train_limit": 2000,
        "validation": 1000,
        "train": {"epochs": 3},
        "prune": {"epochs": 2, "ramp_epochs": 1, "frequency": 4, "target_sparsity": 0.8, "max_accuracy_drop": 50.0},
        "quantize": {"calibration_images": 200, "max_accuracy_drop": 3.0, "timing_runs": 100, "throughput_seconds": 0.05},
    }
    for key, value in overrides.items():
        if isinstance(value, dict):
            raw.setdefault(key, {}).update(value)
        else:
            raw[key] = value
    recipe = config.from_dict(config.Pipeline, raw)
    recipe.name, recipe.path = "tiny", str(tmp_path / "tiny.toml")
    return recipe
