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
    export.save(export.to_onnx(model, opset=17), path)
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

    from edgedigits.training import checks

    assert checks.MAX_OPSET == max(tf2onnx.constants.OPSET_TO_IR_VERSION)


def test_gap_nets_fold_batch_norm_and_the_file_counts_what_is_left(tmp_path, mnist):
    """The export folds each batch norm into its convolution: the file holds one bias per channel, not four
    statistics, and graphstats counts kernels and biases (zeros apart) in the fp32 and the INT8 file alike."""
    import numpy as np

    from edgedigits import runtime
    from edgedigits.training import config, export, graphstats, quantize

    model = models.create_model("gapnet-8")
    rng = np.random.default_rng(0)
    weights = [rng.uniform(0.5, 1.5, w.shape).astype(np.float32) for w in model.get_weights()]
    weights[0][0, 0, 0, :] = 0  # four zero kernel weights in conv1
    model.set_weights(weights)
    fp32, int8 = tmp_path / "m.onnx", tmp_path / "m.int8.onnx"
    export.save(export.to_onnx(model, opset=17), fp32)
    assert "BatchNormalization" not in {n.op_type for n in onnx_nodes(fp32)}
    channels = 4 + 8 + 8 + 8 + 8
    kernels = 9 * (4 + 4 * 8 + 3 * 8 * 8) + 8 * 10
    expected = {"parameters": kernels + channels + 10, "nonzero_parameters": kernels + channels + 10 - 4}
    assert models.count_params("gapnet-8") == kernels + 4 * channels + 10  # Keras counts BN's four per channel
    assert graphstats.parameter_stats(fp32) == expected
    cfg = config.Quantize(calibration_images=50, variants=["u8s8"])
    x = mnist.x_train[:50]
    quantize.quantize_with_accuracy_control(fp32, int8, [{"input": runtime.normalize(x)}], lambda path: 99.0, None, cfg,
                                            timer=lambda paths: {n: {"p50_us": 1.0, "p90_us": 1.0, "images_per_s": 1}
                                                                 for n in paths})
    stats = graphstats.parameter_stats(int8)
    assert stats["parameters"] == expected["parameters"] and stats["nonzero_parameters"] <= expected["nonzero_parameters"]
    assert stats["nonzero_parameters"] >= expected["nonzero_parameters"] - channels - 10  # only biases may round to 0


def onnx_nodes(path):
    import onnx

    return onnx.load(str(path)).graph.node
