"""The ``isnet`` command as a user meets it: checked options, help, Ctrl-C, summaries, no tracebacks."""

import argparse
import json
import os
import signal
import subprocess
import sys

import cv2
import numpy as np
import pytest
import torch
from conftest import bowl

import isnet
from isnet import cli, options, search, training
from isnet.assets import demo_list
from isnet.training import TrainConfig, train

# The arguments each command needs before its options are even looked at.
REQUIRED = {
    "demo": [],
    "train": [],
    "evaluate": ["--list", "x.txt"],
    "search": [],
    "predict": ["x.jpg"],
    "export": ["--onnx", "x.onnx"],
    "benchmark": [],
}


def actions(command: str) -> list[argparse.Action]:
    parser = cli.COMMANDS[command][0].get_args_parser()
    return [a for a in parser._actions if not isinstance(a, argparse._HelpAction)]


def out_of_range(kind) -> list[str]:
    """Values just outside an option's range (and a word, for every number option)."""
    bad = ["many"]
    if isinstance(kind, options.IntRange):
        bad.append(str(kind.lo - 1))
        bad += [] if kind.hi is None else [str(kind.hi + 1)]
    elif isinstance(kind, options.FloatRange):
        bad += [repr(kind.lo) if kind.open_lo else repr(kind.lo - 0.5), "nan", "inf"]
        bad += [] if kind.hi is None else [repr(kind.hi + 0.5)]
    return bad


RANGED = [
    (command, a.option_strings[0], value)
    for command in cli.COMMANDS
    for a in actions(command)
    if isinstance(a.type, (options.IntRange, options.FloatRange))
    for value in out_of_range(a.type)
]


def test_every_number_option_is_range_checked():
    for command in cli.COMMANDS:
        for a in actions(command):
            assert a.type not in (int, float), f"isnet {command} {a.option_strings}: unchecked {a.type.__name__}"
    assert len({(c, o) for c, o, _ in RANGED}) >= 50


def expect_usage_error(capsys, argv: list[str]) -> str:
    with pytest.raises(SystemExit) as e:
        cli.main(argv)
    err = capsys.readouterr().err
    assert e.value.code == 2
    assert err.count("\n") == 1 and "Traceback" not in err, err
    return err


@pytest.mark.parametrize(("command", "option", "value"), RANGED)
def test_out_of_range_values_stop_before_work_with_one_line(capsys, command, option, value):
    err = expect_usage_error(capsys, [command, *REQUIRED[command], option, value])
    assert err.startswith(f"isnet {command}: error: argument {option}")


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["predict", "x.jpg", "--score-threshold", "-1"], "must be at least 0 and at most 1, got -1"),
        (["predict", "x.jpg", "--score-threshold", "1.5"], "must be at least 0 and at most 1, got 1.5"),
        (["predict", "x.jpg", "--max-side", "-5"], "must be at least 32 or 0"),
        (["predict", "x.jpg", "--threads", "-1"], "must be at least 0"),
        (["train", "--demo", "--threads", "-1"], "must be at least 0"),
        (["train", "--demo", "--batch-size", "0"], "must be at least 1, got 0"),
        (["evaluate", "--list", "x", "--batch-size", "0"], "must be at least 1, got 0"),
        (["export", "--onnx", "x.onnx", "--opset", "5"], "must be from 7 to 20, got 5"),
        (["export", "--onnx", "/nonexistent/x.onnx"], "the folder /nonexistent does not exist"),
        (["evaluate", "--list", "x", "--json", "/nonexistent/m.json"], "the folder /nonexistent does not exist"),
        (["benchmark", "--threads", "0"], "must be at least 1, got 0"),
    ],
)
def test_options_the_first_hour_meets(capsys, argv, message):
    assert message in expect_usage_error(capsys, argv)


def test_threads_zero_means_the_default_everywhere():
    for command in ("train", "search", "predict"):
        (threads,) = [a for a in actions(command) if a.dest == "threads"]
        assert threads.type is options.THREADS and threads.default == 0 and "0:" in threads.help
    assert options.threads_or_none(0) is None and options.threads_or_none(3) == 3


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_cuda_without_cuda_is_refused(capsys):
    assert "no CUDA device" in expect_usage_error(capsys, ["train", "--demo", "--device", "cuda"])
    assert "expected auto, cpu, cuda" in expect_usage_error(capsys, ["train", "--demo", "--device", "gpu"])


def test_a_failed_export_leaves_no_file(tmp_path, capsys, monkeypatch):
    out = tmp_path / "x.onnx"
    monkeypatch.setattr("isnet.commands.export.parity", lambda model, graph: 1.0)
    assert cli.main(["export", "--onnx", str(out)]) == 2
    assert "nothing written" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("command", list(cli.COMMANDS))
def test_every_option_has_help_and_shows_its_default(command):
    text = " ".join(cli.COMMANDS[command][0].get_args_parser().format_help().split())
    for a in actions(command):
        assert a.help, f"isnet {command} {a.option_strings or a.dest}: no help"
        if a.option_strings and a.nargs != 0 and a.default is not None:
            shown = " ".join(map(str, a.default)) if isinstance(a.default, list) else str(a.default)
            assert "default:" in text and shown in text, f"isnet {command} {a.option_strings}: default not shown"


def test_the_console_script_never_shows_a_traceback():
    argv = ["predict", "x.jpg", "--score-threshold", "1.5"]
    done = subprocess.run([sys.executable, "-m", "isnet.cli", *argv], capture_output=True, text=True)
    assert done.returncode == 2 and "Traceback" not in done.stderr and done.stderr.count("\n") == 1


# ---------------------------------------------------------------------------- no silent outcomes


def test_predict_on_a_folder_without_images_says_what_it_skipped(tmp_path, capsys):
    empty = tmp_path / "empty"
    empty.mkdir()
    assert cli.main(["predict", str(empty)]) == 2
    assert f"no images or videos found in {empty}" in capsys.readouterr().err
    odd = tmp_path / "odd"
    odd.mkdir()
    (odd / "anim.gif").write_bytes(b"GIF89a")
    (odd / "notes.txt").write_text("hello")
    assert cli.main(["predict", str(odd)]) == 2
    err = capsys.readouterr().err
    assert "2 files skipped" in err and "anim.gif" in err and "notes.txt" in err


def test_predict_tells_a_photo_without_a_face_from_one_not_processed(tmp_path, capsys, weights):
    photos = tmp_path / "photos"
    photos.mkdir()
    face = demo_list("val").parent / "lfw_5590"
    first = sorted(face.iterdir())[0]
    (photos / first.name).write_bytes(first.read_bytes())
    cv2.imwrite(str(photos / "flat.png"), np.full((120, 160), 128, np.uint8))
    (photos / "broken.jpg").write_bytes(b"not a jpeg")
    (photos / "readme.txt").write_text("not a photo")
    assert cli.main(["predict", str(photos), "--weights", str(weights)]) == 2
    out, err = capsys.readouterr()
    assert {json.loads(line)["file"] for line in out.splitlines()} == {str(photos / first.name)}
    summary = err.strip().splitlines()[-2]  # the last line is the error that sets the exit code
    assert "2 images and 0 videos read" in summary
    assert f"no face in 1 image ({photos / 'flat.png'})" in summary
    assert "1 input not processed" in summary and "1 file skipped" in summary
    assert "broken.jpg: cannot be decoded" in err


def test_evaluate_quiet_prints_nothing(tmp_path, capfd, weights):
    code = cli.main(["evaluate", "--list", str(demo_list("val")), "--weights", str(weights), "--quiet"])
    assert code == 0
    assert capfd.readouterr() == ("", "")


# ---------------------------------------------------------------------------- Ctrl-C


def interrupt_at(monkeypatch, iteration: int) -> None:
    """Send this process a real SIGINT while training iteration ``iteration`` (0-based) runs."""
    real = training.learning_rate

    def rate(config, it):
        if it == iteration:
            os.kill(os.getpid(), signal.SIGINT)
        return real(config, it)

    monkeypatch.setattr(training, "learning_rate", rate)


def test_ctrl_c_in_training_checkpoints_the_current_iteration(tmp_path, monkeypatch, capsys):
    argv = ["--demo", "--quiet", "--threads", "1", "--iterations", "30", "--val-every", "10", "--batch-size", "16"]
    common = {"iterations": 30, "val_every": 10, "batch_size": 16, "threads": 1, "quiet": True}
    straight = train(TrainConfig(demo=True, out=str(tmp_path / "a"), **common))
    interrupt_at(monkeypatch, 16)
    code = cli.main(["train", *argv, "--out", str(tmp_path / "b"), "--ckpt-every", "500"])
    assert code == 130
    err = capsys.readouterr().err
    ckpt = tmp_path / "b" / "checkpoint.pt"
    assert f"checkpoint of iteration 17 of 30 written to {ckpt}; continue with --resume" in err
    assert isnet.model.load_checkpoint(ckpt)["iteration"] == 17
    monkeypatch.undo()
    resumed = train(TrainConfig(demo=True, out=str(tmp_path / "b"), resume=True, **common))
    a, b = isnet.load(straight["model"]).state_dict(), isnet.load(resumed["model"]).state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert straight["history"] == resumed["history"]


def interrupting_bowl(at_call: int):
    calls = {"n": 0}

    def objective(beta):
        calls["n"] += 1
        if calls["n"] == at_call:
            os.kill(os.getpid(), signal.SIGINT)
        return bowl(beta)

    return objective


def test_ctrl_c_in_a_search_puts_the_trial_back(tmp_path):
    # A shell starts background jobs with SIGINT ignored, and Python keeps it so: give this test
    # the handler an interactive Python has, whatever started the suite.
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        ctrl_c_in_a_search(tmp_path)
    finally:
        signal.signal(signal.SIGINT, previous)


def ctrl_c_in_a_search(tmp_path):
    def args(out):
        return search.SearchConfig(TrainConfig(demo=True, out=str(out), quiet=True), random_trials=8, trials=11, phi=0)

    def trials(a):
        rows = search.summarise_study(search.create_or_load(a, 3), a, 3)["trials"]
        return sorted((tuple(np.round(r["beta"], 10)), round(r["loss"], 10)) for r in rows)

    straight = args(tmp_path / "a")
    search.run_worker(straight, 3, bowl)
    stopped = args(tmp_path / "b")
    with pytest.raises(search.SearchInterrupted, match="put back; run the same command again"):
        search.run_worker(stopped, 3, interrupting_bowl(4))
    search.run_worker(stopped, 3, bowl)
    assert trials(stopped) == trials(straight) and len(trials(straight)) == 11


def test_demo_runs_twice_and_says_where_it_wrote(tmp_path, capsys):
    argv = ["demo", "--out", str(tmp_path / "demo"), "--iterations", "10"]
    assert cli.main(argv) == 0
    first = capsys.readouterr().out
    assert cli.main(argv) == 0
    second = capsys.readouterr().out
    assert f"wrote model {tmp_path / 'demo' / 'model.pt'}, metrics {tmp_path / 'demo' / 'metrics.json'}" in first
    assert first.splitlines()[0] == second.splitlines()[0]  # the same headline numbers


def test_without_ray_the_engine_says_how_to_install_it(monkeypatch, tmp_path, capsys):
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray now fails as if not installed
    rc = cli.main(["predict", str(tmp_path), "--engine", "ray", "--quiet"])
    err = capsys.readouterr().err
    assert rc == 2 and 'pip install "isnet[ray]"' in err and "Traceback" not in err
