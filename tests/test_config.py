import pytest

from edgedigits.errors import InputError
from edgedigits.training import config, models


def test_every_shipped_pipeline_loads_and_names_a_registered_model():
    paths = sorted(config.PIPELINES_DIR.glob("*.toml"))
    assert {"lenet", "lenet5", "lenet5-v2", "cnn", "mlp", "number-reader"} <= {p.stem for p in paths}
    for path in paths:
        recipe = config.load(path.stem)
        if recipe.task == "classifier":
            models.get_spec(recipe.model)
        assert recipe.name == path.stem
    assert any(config.load(p.stem).dataset == "fashion-mnist" for p in paths)


def test_defaults_fill_what_the_file_does_not_say(tmp_path):
    path = tmp_path / "mini.toml"
    path.write_text('model = "mlp"\n[train]\nepochs = 3\n')
    recipe = config.load(str(path))
    assert (recipe.model, recipe.train.epochs, recipe.train.optimizer) == ("mlp", 3, "adam")
    assert recipe.quantize.max_accuracy_drop == 0.3
    assert recipe.quantize.select == "fastest" and recipe.quantize.variants == list(config.DEFAULT_QUANT_VARIANTS)


@pytest.mark.parametrize(
    "text,message",
    [
        ('model = "lenet"\nepochz = 3\n', "unknown key 'epochz'"),
        ("[train]\nlearning_rat = 0.1\n", r"\[train\]: unknown key 'learning_rat'"),
        ('[train]\nepochs = "ten"\n', "'epochs' must be int"),
        ("[train]\nepochs = true\n", "'epochs' must be int"),
        ('[train]\noptimizer = "lion"\n', "unknown optimizer 'lion'"),
        ("[prune]\ntarget_sparsity = 1.5\n", r"prune.target_sparsity must be a number in \[0, 1\), got 1.5"),
        ("[prune.layers]\ndense1 = 2\n", "prune.layers.dense1"),
        ("[export]\nopset = 11\n", r"export.opset must be an integer in \[17, 18\], got 11"),
        ('[quantize]\nvariants = ["s4s4"]\n', "quantize.variants must be"),
        ('[quantize]\nvariants = "u8u8"\n', "'variants' must be list"),
        ('[quantize]\nselect = "smallest"\n', "quantize.select must be one of fastest, accurate"),
        ('[quantize]\ncalibration_method = "max"\n', "quantize.calibration_method must be one of minmax, entropy"),
        ('task = "numbers"\nmodel = "crnn"\nrefit = true\n[prune]\nenabled = false\n', "task numbers has no refit"),
        ("[quantize]\ntiming_runs = 5\n", r"quantize.timing_runs must be an integer in \[20, 1000000\], got 5"),
        ("[quantize]\nthroughput_seconds = 0\n", r"quantize.throughput_seconds must be a number in \(0, 600\], got 0.0"),
        ("model = \n", "malformed pipeline"),
        ("[train\n", "malformed pipeline"),
    ],
)
def test_bad_recipes_are_one_clear_error(tmp_path, text, message):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(InputError, match=message) as info:
        config.load(str(path))
    assert "\n" not in str(info.value)


def test_unknown_pipeline_lists_the_known_ones():
    with pytest.raises(InputError, match="unknown pipeline 'nope' .*lenet"):
        config.load("nope")
    with pytest.raises(InputError, match="pipeline file not found"):
        config.load("missing/dir/x.toml")
