"""Sweeps: overrides, trial bookkeeping and resume, k-fold splits, grid statistics, real trials on MNIST slices, Ray."""

import importlib
import json
import logging
import os

import numpy as np
import pytest

from edgedigits import runtime
from edgedigits.errors import InputError
from edgedigits.experiments.sweeps import grid, pipeline, runner, sparsity
from edgedigits.training import config, models, prune
from tests.conftest import tiny_recipe
from tests.sweep_trials import failing_trial, square_trial


def test_parse_param_reads_toml_literals_and_falls_back_to_strings():
    assert runner.parse_param("batch_size=32,64") == ("batch_size", [32, 64])
    assert runner.parse_param("optimizer=adam,rmsprop") == ("optimizer", ["adam", "rmsprop"])
    assert runner.parse_param("train.learning_rate=1e-3, 0.01") == ("train.learning_rate", [0.001, 0.01])
    assert runner.parse_param("train.nesterov=true") == ("train.nesterov", [True])
    with pytest.raises(InputError, match="name=value1,value2"):
        runner.parse_param("batch_size")


def test_overrides_resolve_bare_and_dotted_keys_and_refuse_bad_ones():
    recipe = config.load("lenet")
    changed = config.with_overrides(recipe, {"batch_size": 32, "optimizer": "rmsprop", "prune.epochs": 14, "seed": 7})
    assert (changed.train.batch_size, changed.train.optimizer, changed.prune.epochs, changed.seed) == (32, "rmsprop", 14, 7)
    assert changed.name == "lenet" and recipe.train.batch_size == 128  # the original is untouched
    with pytest.raises(InputError, match="unknown key 'batchsize'"):
        config.with_overrides(recipe, {"batchsize": 32})
    with pytest.raises(InputError, match="must be int"):
        config.with_overrides(recipe, {"batch_size": "big"})
    with pytest.raises(InputError, match="unknown optimizer"):
        config.with_overrides(recipe, {"optimizer": "lion"})
    with pytest.raises(InputError, match=r"prune.ramp_epochs must be in \[1, prune.epochs = 3\]"):
        config.with_overrides(recipe, {"prune.epochs": 3})  # lenet's ramp is 12 epochs: it would not end


def test_trials_run_in_worker_processes_and_a_resumed_sweep_reruns_only_missing_ones(tmp_path, caplog):
    trials = [runner.Trial(f"x{x}", {"x": x}) for x in range(4)]
    first = runner.run_trials(trials, square_trial, tmp_path, workers=2)
    assert list(first) == ["x0", "x1", "x2", "x3"]
    assert [r["square"] for r in first.values()] == [0, 1, 4, 9]
    assert os.getpid() not in {r["pid"] for r in first.values()}  # never in the parent process
    (tmp_path / "trials" / "x2.json").unlink()  # as if the sweep had been interrupted before trial x2 finished
    caplog.set_level(logging.INFO, logger="edgedigits")
    caplog.clear()
    second = runner.run_trials(trials, square_trial, tmp_path, workers=1)
    assert "3 already finished" in caplog.messages[0] and "1 to run" in caplog.messages[0]
    for tid in ("x0", "x1", "x3"):
        assert second[tid] == first[tid]  # read back from disk, not recomputed (same pid as the first run)
    assert second["x2"]["square"] == 4 and json.loads((tmp_path / "trials" / "x2.json").read_text()) == second["x2"]


def test_a_failing_trial_stops_the_sweep_but_keeps_finished_trials(tmp_path):
    trials = [runner.Trial(f"x{x}", {"x": x}) for x in range(4)]
    with pytest.raises(RuntimeError, match="trial 2 broke"):
        runner.run_trials(trials, failing_trial, tmp_path, workers=1)
    assert {"x0.json", "x1.json"} <= {p.name for p in (tmp_path / "trials").iterdir()}
    assert not (tmp_path / "trials" / "x2.json").exists()


def test_grid_statistics_are_mean_and_sample_std_per_cell():
    cells = [{"batch_size": 32}, {"batch_size": 64}]
    rows = [{"params": {"cell": cells[i % 2]}, "best_val_accuracy": acc, "train_time_s": 1.0}
            for i, acc in enumerate([98.0, 97.0, 99.0, 96.0, 97.0, 98.0])]
    summary = grid.summarize(rows, cells)
    first, second = summary["cells"]
    assert first["fold_val_accuracy"] == [98.0, 99.0, 97.0] and first["mean_val_accuracy"] == pytest.approx(98.0)
    assert first["std_val_accuracy"] == pytest.approx(np.std([98, 99, 97], ddof=1), abs=1e-3)
    assert second["mean_val_accuracy"] == pytest.approx(97.0)
    assert summary["best"]["cell"] == {"batch_size": 32}
    assert "Best cell: batch_size=32 (98.00% +/- 1.00)" in grid.markdown(summary, "lenet", 3)


def test_folds_are_stratified_disjoint_and_cover_the_training_images(mnist, tmp_path):
    recipe = tiny_recipe(tmp_path, train_limit=1000)
    seen = []
    for fold in range(4):
        split = grid.fold_split(mnist, recipe, fold, 4)
        assert len(split.x_val) == 250 and len(split.x_train) == 750
        assert np.all(np.bincount(split.y_val, minlength=10) >= 15)  # every class in every fold
        assert split.x_test is mnist.x_test  # the test set plays no part in tuning
        seen.append(split.x_val.reshape(250, -1))
    rows = {r.tobytes() for r in np.concatenate(seen)}
    assert len(rows) == len({r.tobytes() for r in mnist.x_train[:1000].reshape(1000, -1)})


def test_scaled_targets_hit_the_overall_sparsity_and_keep_the_recipe_shape():
    recipe = config.load("lenet")
    model = models.create_model("lenet")
    sizes = {layer.name: layer.kernel.shape.num_elements() for layer in model.layers if hasattr(layer, "kernel")}
    for overall in (0.5, 0.9, 0.98):
        targets = prune.scaled_targets(model, recipe.prune, overall)
        achieved = sum(targets[n] * sizes[n] for n in sizes) / sum(sizes.values())
        assert achieved == pytest.approx(overall, abs=1e-3)
        assert targets["dense1"] >= targets["conv2"] >= targets["conv1"]  # the big dense layer is pruned hardest
    assert set(prune.scaled_targets(model, recipe.prune, 0.0).values()) == {0.0}


@pytest.fixture(scope="module")
def tiny_base(tmp_path_factory, mnist):
    """A lenet trained for 2 epochs on 2,000 images, as the sweep's base trial makes it."""
    tmp = tmp_path_factory.mktemp("base")
    path = tmp / "tiny.toml"
    path.write_text('model = "lenet"\ntrain_limit = 2000\nvalidation = 1000\n[train]\nepochs = 2\n'
                    '[prune]\nepochs = 2\nramp_epochs = 1\nfrequency = 4\n[quantize]\ncalibration_images = 200\n')
    result = sparsity.train_base_trial({"pipeline": str(path), "run_dir": str(tmp / "base")})
    return path, result["model"]


def test_sparsity_trial_prunes_exports_and_scores_through_onnxruntime(tiny_base, mnist, tmp_path):
    recipe_path, base = tiny_base
    row = sparsity.sparsity_trial({"pipeline": str(recipe_path), "base": base, "sparsity": 0.8, "run_dir": str(tmp_path)})
    assert row["kernel_sparsity"] == pytest.approx(0.8, abs=0.01)
    assert row["nonzero_parameters"] < 0.3 * 44_426
    assert row["int8_test_accuracy"] == pytest.approx(runtime.accuracy(tmp_path / "int8.onnx", mnist.x_test, mnist.y_test))
    assert row["fp32_test_accuracy"] == pytest.approx(runtime.accuracy(tmp_path / "pruned.onnx", mnist.x_test, mnist.y_test))
    assert row["int8_gzip_bytes"] < row["fp32_gzip_bytes"]
    better = row["int8_test_accuracy"] + 1.0
    dense = {**row, "target_sparsity": 0.0, "fp32_test_accuracy": better, "int8_test_accuracy": better}
    assert sparsity.first_loss([dense, row])["target_sparsity"] == 0.8  # int8 is > 0.5 points below that reference


def test_grid_trial_trains_on_one_fold_and_reports_its_validation(tiny_base, tmp_path):
    recipe_path, _ = tiny_base
    row = grid.grid_trial({"pipeline": str(recipe_path), "overrides": {"train.epochs": 1, "train_limit": 600},
                            "fold": 1, "folds": 3, "run_dir": str(tmp_path)})
    assert (row["train_images"], row["validation_images"], row["epochs"]) == (400, 200, 1)
    assert 10 < row["best_val_accuracy"] <= 100


def test_grid_on_the_recipes_validation_refuses_a_refit_recipe_before_any_trial(tmp_path):
    sweep = runner.Sweep(config.load("lenet"), tmp_path / "out", tmp_path / "runs", overrides={"refit": True})
    with pytest.raises(InputError, match="refit = true trains on"):
        grid.run(sweep, ("train.epochs=1,2",), folds=1)
    assert not (tmp_path / "out").exists()
    sweep.overrides = {}  # a refit cell among the cells is refused the same way
    with pytest.raises(InputError, match="search without refit"):
        grid.run(sweep, ("refit=false,true",), folds=1)


def test_ray_and_local_workers_write_the_same_result_files(tmp_path):
    pytest.importorskip("ray", reason="the [ray] extra is not installed")
    trials = [runner.Trial(f"x{x}", {"x": x}) for x in range(3)]
    local = runner.run_trials(trials, square_trial, tmp_path / "local", workers=2)
    on_ray = runner.run_trials(trials, square_trial, tmp_path / "ray", ray_address="local")
    strip = lambda r: {k: v for k, v in r.items() if k != "pid"}  # noqa: E731
    assert [strip(r) for r in on_ray.values()] == [strip(r) for r in local.values()]
    assert sorted(p.name for p in (tmp_path / "ray" / "trials").iterdir()) == ["x0.json", "x1.json", "x2.json"]


def test_pipeline_sweep_cell_runs_train_prune_export_with_structured_widths(tmp_path, mnist):
    recipe = tmp_path / "slim.toml"
    recipe.write_text('model = "lenet"\ntrain_limit = 1500\nvalidation = 500\n[train]\nepochs = 1\n'
                      '[structured]\nenabled = true\nsteps = 1\nepochs = 1\n[structured.widths]\nconv1 = 4\n'
                      '[prune]\nepochs = 2\nramp_epochs = 1\nfrequency = 4\n'
                      '[quantize]\ncalibration_images = 100\nmax_accuracy_drop = 5.0\ntiming_runs = 50\n'
                      'throughput_seconds = 0.05\n')
    cell = {"structured.widths.conv2": 8}
    row = pipeline.pipeline_trial({"pipeline": str(recipe), "overrides": cell, "run_dir": str(tmp_path / "cell")})
    assert row["widths"] == {"conv1": 4, "conv2": 8, "dense1": 120, "dense2": 84}
    # MACs of lenet at conv1 4, conv2 8, by hand: 24*24*4*25 + 8*8*8*(25*4) + 128*120 + 120*84 + 84*10
    assert row["macs"] == 57_600 + 51_200 + 15_360 + 10_080 + 840
    shipped = tmp_path / "cell" / "exported" / "slim.int8.onnx"
    assert row["int8_test_accuracy"] == pytest.approx(runtime.accuracy(shipped, mnist.x_test, mnist.y_test))
    text = pipeline.markdown([{**row, "params": {"cell": cell}}], "slim")
    assert f"| 8 | {row['macs']:,} |" in text


@pytest.fixture
def toy_kind():
    from edgedigits.experiments import sweeps

    importlib.import_module("tests.toy_sweep")  # registers itself, as a module of edgedigits.experiments.sweeps would
    yield
    sweeps.KINDS.remove("squares")


def test_a_sweep_kind_is_one_module(toy_kind, capsys, tmp_path):
    from edgedigits.cli import main
    from edgedigits.experiments import sweeps

    main(["sweep", "--help"])
    assert "squares" in capsys.readouterr().out and "Square the numbers below --count" in sweeps.kind("squares").run.__doc__
    out = tmp_path / "out"
    main(["sweep", "squares", "--count", "3", "--out-dir", str(out), "--runs-dir", str(tmp_path / "runs"), "--workers", "1"])
    printed = capsys.readouterr().out
    assert "| 2 | 4 |" in printed and f"wrote {out / 'squares.md'}, {out / 'squares.json'}" in printed
    assert [r["square"] for r in json.loads((out / "squares.json").read_text())["rows"]] == [0, 1, 4]
    assert sorted(p.name for p in (out / "trials").iterdir()) == ["x0.json", "x1.json", "x2.json"]
