import pytest

from edgedigits.errors import InputError
from edgedigits.training import models

# Parameter counts as printed by model.summary() in the seed documents.
SEED_COUNTS = {"lenet": 44_426, "lenet5": 44_426, "cnn": 93_322, "mlp": 266_610}


@pytest.mark.parametrize("name,expected", sorted(SEED_COUNTS.items()))
def test_parameter_counts_match_the_seeds(name, expected):
    assert models.count_params(name) == expected


def test_lenet5_v2_follows_seed_001():
    model = models.create_model("lenet5-v2")
    kinds = [type(layer).__name__ for layer in model.layers]
    assert kinds.count("Conv2D") == 4 and kinds.count("BatchNormalization") == 5 and kinds.count("Dropout") == 3
    assert [layer.units for layer in model.layers if type(layer).__name__ == "Dense"] == [256, 128, 84, 10]


def test_dataset_decides_number_of_classes():
    model = models.create_model("lenet", num_classes=5)
    assert model.output_shape == (None, 5)
    assert models.count_params("lenet", 5) == SEED_COUNTS["lenet"] - 5 * 85


def test_every_model_takes_the_contract_input():
    for spec in models.list_models():
        model = models.create_model(spec.name)
        assert model.input_shape == (None, 28, 28, 1)
        assert model.layers[-1].activation.__name__ == "softmax"


def test_unknown_model_names_the_known_ones():
    with pytest.raises(InputError, match="unknown model 'nope'.*lenet"):
        models.create_model("nope")


def test_cnn7_is_seed_003_model_7():
    # seed 003 printed 887,013 parameters for its 5-class data set
    assert models.count_params("cnn7", num_classes=5) == 887_013


def test_functional_resnet_exports_to_onnx_with_parity(tmp_path):
    import numpy as np

    from edgedigits import runtime
    from edgedigits.training import export

    model = models.create_model("resnet")
    assert sum(type(layer).__name__ == "Add" for layer in model.layers) == 9  # 3 stages x 3 residual blocks
    path = tmp_path / "resnet.onnx"
    export.save(export.to_onnx(model, 17), path)
    x = np.random.default_rng(0).random((4, 28, 28, 1), dtype=np.float32)
    got = runtime.Classifier(path).probabilities(x)
    np.testing.assert_allclose(got, model(x, training=False).numpy(), atol=1e-5)


@pytest.mark.parametrize("name", [spec.name for spec in models.list_models()])
def test_parameter_counts_without_tensorflow_agree_with_keras(name):
    for classes in (10, 5):
        assert models.count_params(name, classes) == models.create_model(name, classes).count_params()


@pytest.mark.parametrize("name", [spec.name for spec in models.list_models()])
def test_layer_names_without_tensorflow_agree_with_keras(name):
    """The names recipes are checked against at load time are the built model's prunable and shrinkable layers."""
    from edgedigits.training import prune
    from edgedigits.training.stack import keras

    model = models.create_model(name)
    wide = [layer.name for layer in model.layers if isinstance(layer, (keras.layers.Conv2D, keras.layers.Dense))]
    names = models.layer_names(name)
    assert names["complete"]
    # (a functional model lists its layers in graph order, the builder makes them in its own: compare as sets)
    assert sorted(names["prunable"]) == sorted(layer.name for layer in model.layers if isinstance(layer, prune.PRUNABLE))
    assert names["shrinkable"] == (wide[:-1] if isinstance(model, keras.Sequential) else [])


def test_the_newest_opset_a_recipe_may_ask_for_is_the_converters():
    import tf2onnx.constants

    from edgedigits.training import config

    assert config.MAX_OPSET == max(tf2onnx.constants.OPSET_TO_IR_VERSION)
