"""Structured pruning: MAC counts, which units are kept, the narrow model computing what the wide one did, config."""

import json

import numpy as np
import onnx
import pytest

from edgedigits.errors import InputError
from edgedigits.training import config, graphstats, models, pipeline, structured
from edgedigits.training.stack import keras
from tests.conftest import tiny_recipe

LENET_MACS = 24 * 24 * 6 * 5 * 5 * 1 + 8 * 8 * 16 * 5 * 5 * 6 + 256 * 120 + 120 * 84 + 84 * 10  # 281,640


def random_model(name, seed=0):
    """A registry model with random weights, batch-norm statistics included, so nothing is trivially zero or one."""
    keras.utils.set_random_seed(seed)
    model = models.create_model(name)
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            gamma, beta, mean, var = layer.get_weights()
            layer.set_weights([rng.uniform(0.5, 2, gamma.shape), rng.normal(0, 0.5, beta.shape),
                               rng.normal(0, 0.5, mean.shape), rng.uniform(0.5, 2, var.shape)])
        elif isinstance(layer, (keras.layers.Conv2D, keras.layers.Dense)) and layer.use_bias:
            kernel, bias = layer.get_weights()
            layer.set_weights([kernel, rng.normal(0, 0.05, bias.shape)])
    return model


def test_macs_of_lenet_match_a_hand_count():
    assert structured.macs(models.create_model("lenet")) == LENET_MACS == 281_640
    # mlp: 784*300 + 300*100 + 100*10
    assert structured.macs(models.create_model("mlp")) == 784 * 300 + 300 * 100 + 100 * 10


def test_onnx_macs_of_the_shipped_lenet_match_the_hand_count():
    from tests.test_shipped import EXPORTED

    assert graphstats.macs(EXPORTED / "lenet.onnx") == graphstats.macs(EXPORTED / "lenet.int8.onnx") == LENET_MACS


def test_kept_units_are_the_top_scoring_ones():
    model = random_model("lenet")
    conv1, conv2, dense1 = (np.abs(model.get_layer(n).kernel.numpy()) for n in ("conv1", "conv2", "dense1"))
    plain = structured.keep_indices(model, {"conv1": 3, "conv2": 8, "dense1": 60, "dense2": 84}, "l1")
    assert list(plain["conv1"]) == sorted(np.argsort(-conv1.sum(axis=(0, 1, 2)))[:3])
    assert list(plain["conv2"]) == sorted(np.argsort(-conv2.sum(axis=(0, 1, 2)))[:8])
    assert list(plain["dense2"]) == list(range(84))
    aware = structured.keep_indices(model, {"conv1": 3, "conv2": 8, "dense1": 60, "dense2": 84}, "l1-outgoing")
    assert list(aware["conv1"]) == sorted(np.argsort(-conv1.sum(axis=(0, 1, 2)) * conv2.sum(axis=(0, 1, 3)))[:3])
    # conv2's outgoing weights are dense1's rows, flattened (h, w, c): channel c is every 16th row from c
    outgoing = dense1.reshape(16, 16, 120).sum(axis=(0, 2))
    assert list(aware["conv2"]) == sorted(np.argsort(-conv2.sum(axis=(0, 1, 2)) * outgoing)[:8])


@pytest.mark.parametrize("name", ["lenet", "lenet5", "lenet5-v2", "cnn", "mlp", "lenet-fast-wide"])
def test_narrow_model_equals_wide_model_with_removed_units_cut_off(name, mnist):
    """Zeroing the weights with which the next layer reads the removed units must give the narrow model's outputs."""
    wide = random_model(name)
    target = {n: max(1, w // 2 - 1) for n, w in structured.widths(wide).items()}
    keep = structured.keep_indices(wide, target)
    narrow = structured.shrink(wide, keep)
    assert structured.widths(narrow) == target
    shrinkable = list(structured.widths(wide))
    for layer in wide.layers:
        if layer.name not in shrinkable:
            continue
        between, nxt = structured._following(wide, layer)
        removed = np.setdiff1d(np.arange(structured.widths(wide)[layer.name]), keep[layer.name])
        kernel, *rest = nxt.get_weights()
        if isinstance(nxt, keras.layers.Conv2D):
            kernel[:, :, removed, :] = 0
        elif any(isinstance(b, keras.layers.Permute) for b in between):  # flattened (c, h, w)
            view = kernel.reshape(structured.widths(wide)[layer.name], -1, kernel.shape[-1])
            view[removed] = 0
        else:
            view = kernel.reshape(-1, structured.widths(wide)[layer.name], kernel.shape[-1])
            view[:, removed, :] = 0
        nxt.set_weights([kernel, *rest])
    x = mnist.x_test[:64, ..., None].astype(np.float32) / 255
    assert np.allclose(wide(x, training=False).numpy(), narrow(x, training=False).numpy(), atol=1e-5)
    assert structured.macs(narrow) < structured.macs(wide)


def test_schedule_is_linear_in_width_and_ends_at_the_target():
    assert structured.schedule({"a": 6, "b": 16}, {"a": 3, "b": 16}, 3) == [{"a": 5, "b": 16}, {"a": 4, "b": 16},
                                                                            {"a": 3, "b": 16}]


def test_widths_take_counts_and_fractions_and_refuse_the_rest():
    model = models.create_model("lenet")
    assert structured.target_widths(model, {"conv1": 3, "conv2": 0.5}) == {"conv1": 3, "conv2": 8, "dense1": 120, "dense2": 84}
    with pytest.raises(InputError, match=r"cannot shrink \['output'\]"):
        structured.target_widths(model, {"output": 5})
    with pytest.raises(InputError, match="conv1 = 7 is not between 1"):
        structured.target_widths(model, {"conv1": 7})


def test_unsupported_models_are_refused():
    inputs = keras.Input((28, 28, 1))
    functional = keras.Model(inputs, keras.layers.Dense(10)(keras.layers.Flatten()(inputs)))
    with pytest.raises(InputError, match="needs a Sequential model"):
        structured.shrink(functional, {})
    reshaping = keras.Sequential([keras.layers.InputLayer((28, 28, 1)), keras.layers.Reshape((784,)),
                                  keras.layers.Dense(10, name="d")])
    with pytest.raises(InputError, match="does not support layer"):
        structured.scores(reshaping)
    permuted = keras.Sequential([keras.layers.InputLayer((28, 28, 1)), keras.layers.Conv2D(4, 3, name="c"),
                                 keras.layers.Permute((2, 1, 3)), keras.layers.Flatten(), keras.layers.Dense(10, name="d")])
    with pytest.raises(InputError, match=r"Permute\(3, 1, 2\) right before Flatten only"):
        structured.scores(permuted)


def test_channels_first_flatten_scores_each_channel_by_its_own_rows():
    model = random_model("lenet-fast-wide")
    conv2, dense = (np.abs(model.get_layer(n).kernel.numpy()) for n in ("conv2", "output"))
    aware = structured.keep_indices(model, {"conv2": 20})
    # Permute(3, 1, 2) before the flatten: channel c owns the 9 consecutive rows from 9c (a 3x3 map)
    outgoing = dense.reshape(64, 9, 10).sum(axis=(1, 2))
    bn = model.get_layer("bn2")
    scale = np.abs(bn.gamma.numpy()) / np.sqrt(bn.moving_variance.numpy() + bn.epsilon)
    assert list(aware["conv2"]) == sorted(np.argsort(-conv2.sum(axis=(0, 1, 2)) * scale * outgoing)[:20])


@pytest.mark.parametrize(
    "table,message",
    [
        ({"widths": {"conv1": 0}}, "structured.widths.conv1 must be a count >= 1"),
        ({"widths": {"conv1": 1.5}}, "structured.widths.conv1 must be"),
        ({"widths": {"conv1": 0.0}}, "structured.widths.conv1 must be"),
        ({"widths": {"conv1": True}}, "structured.widths.conv1 must be"),
        ({"widths": {"conv1": "3"}}, "structured.widths.conv1 must be"),
        ({"criterion": "l2"}, "unknown structured.criterion"),
        ({"steps": 0}, r"structured.steps must be an integer in \[1, 100\], got 0"),
        ({"distill": 1.5}, r"structured.distill must be a number in \[0, 1\], got 1.5"),
        ({"enabled": True}, "needs structured.widths"),
        ({"widhts": {}}, "unknown key 'widhts'"),
    ],
)
def test_bad_structured_tables_are_one_clear_error(table, message):
    with pytest.raises(InputError, match=message) as info:
        config.from_dict(config.Pipeline, {"structured": table})
    assert "\n" not in str(info.value)


def test_structured_is_off_by_default_in_every_shipped_pipeline_but_the_narrowed_ones():
    for path in config.PIPELINES_DIR.glob("*.toml"):
        narrowed = path.stem in ("lenet-slim", "lenet-fast-slim", "lenet-fast-deep")
        assert config.load(path.stem).structured.enabled == narrowed


def test_pipeline_ships_a_narrow_model_and_records_widths_and_macs(tmp_path, mnist):
    recipe = tiny_recipe(tmp_path, train={"epochs": 1}, prune={"epochs": 1, "ramp_epochs": 1},
                         structured={"enabled": True, "widths": {"conv1": 3, "conv2": 0.5, "dense1": 60},
                                     "steps": 2, "epochs": 1})
    manifest = pipeline.run(recipe, tmp_path / "exported", tmp_path / "runs")
    assert json.loads((tmp_path / "exported" / "tiny.json").read_text()) == manifest
    facts = manifest["structured"]
    assert facts["widths"] == {"conv1": {"before": 6, "after": 3}, "conv2": {"before": 16, "after": 8},
                               "dense1": {"before": 120, "after": 60}, "dense2": {"before": 84, "after": 84}}
    after = 24 * 24 * 3 * 25 + 8 * 8 * 8 * 25 * 3 + 128 * 60 + 60 * 84 + 84 * 10
    assert facts["macs"] == {"before": LENET_MACS, "after": after, "ratio": round(LENET_MACS / after, 2)}
    assert [s["widths"]["conv1"] for s in facts["steps"]] == [4, 3]
    assert facts["parameters"]["after"] < facts["parameters"]["before"] == 44_426
    stages = manifest["stages"]
    assert list(stages) == ["fp32", "structured", "pruned", "int8"]
    assert stages["fp32"]["macs"] == LENET_MACS and stages["pruned"]["macs"] == stages["int8"]["macs"] == after
    assert stages["structured"]["parameters"] == stages["pruned"]["parameters"] == facts["parameters"]["after"]
    # the shipped file itself is narrow: conv1's weight has 3 output channels
    graph = onnx.load(str(tmp_path / "exported" / "tiny.onnx")).graph
    shapes = sorted(tuple(i.dims) for i in graph.initializer if len(i.dims) == 4)
    assert (3, 1, 5, 5) in shapes or (5, 5, 1, 3) in shapes
    assert "structured" in pipeline.table(manifest) and "MACs" in pipeline.table(manifest)
    # the runtime-side counter reads the same MACs out of the shipped graphs, fp32 and INT8 (QDQ) alike
    assert graphstats.macs(tmp_path / "exported" / "tiny.onnx") == after
    assert graphstats.macs(tmp_path / "exported" / "tiny.int8.onnx") == after


def test_a_sweep_sets_widths_with_dotted_overrides():
    base = config.load("lenet-slim")
    variant = config.with_overrides(base, dict(map(config.parse_override, ["structured.widths.conv1=3",
                                                                           "structured.widths.conv2=0.5",
                                                                           "structured.steps=2"])))
    assert variant.structured.widths["conv1"] == 3 and variant.structured.widths["conv2"] == 0.5
    assert variant.structured.steps == 2 and variant.name == base.name and base.structured.widths["conv1"] == 4
    with pytest.raises(InputError, match="structured.widths.conv1 must be"):
        config.with_overrides(base, {"structured.widths.conv1": 0})
    with pytest.raises(InputError, match="unknown key 'stepz'"):
        config.with_overrides(base, {"structured.stepz": 2})
    with pytest.raises(InputError, match="is not a table"):
        config.with_overrides(base, {"seed.x": 1})
    with pytest.raises(InputError, match="KEY=VALUE"):
        config.parse_override("structured.widths.conv1")


def test_distillation_trains_the_student_and_leaves_the_teacher_alone(tmp_path, mnist):
    from edgedigits.training import train

    recipe = tiny_recipe(tmp_path, structured={"widths": {"conv1": 3, "conv2": 8}, "steps": 1, "epochs": 1,
                                               "distill": 0.5})
    split = train.Split.from_dataset(mnist, 500, 0, 1000)
    teacher = random_model("lenet")
    before = [w.copy() for w in teacher.get_weights()]
    narrow, facts = structured.structured_prune(teacher, split, recipe.structured, 0, tmp_path)
    assert all(np.array_equal(a, b) for a, b in zip(before, teacher.get_weights()))
    assert isinstance(narrow, keras.Sequential) and structured.widths(narrow)["conv2"] == 8
    assert facts["distill"] == 0.5 and facts["steps"][0]["epochs"] == 1
