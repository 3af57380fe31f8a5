"""The package's shape: layers without cycles, resume-or-skip in one place, evaluation with a detector."""

import json
import runpy
import subprocess
import sys

import pytest
from conftest import REPO, train_config

from isnet import cli
from isnet.assets import QUALITY_FIT, ROLL_MODEL, demo_list
from isnet.evaluation import evaluate_list, evaluate_with_detector
from isnet.training import train_or_continue


def test_the_import_graph_has_no_cycles(capsys):
    graph = runpy.run_path(str(REPO / "scripts" / "import_graph.py"))
    assert graph["main"]() == 0
    out = capsys.readouterr().out
    assert out.strip().endswith("no cycles")
    layers = {line.split()[1]: int(line.split()[0]) for line in out.splitlines()[:-1]}
    assert layers["cli"] == max(layers.values())
    assert layers["schemes"] == layers["transforms"] == layers["imageio"] == 0


def test_train_or_continue_starts_resumes_and_skips(tmp_path):
    config = train_config(tmp_path, iterations=8, val_every=4, ckpt_every=4, batch_size=8)
    part = train_or_continue(config.__class__(**{**config.to_dict(), "stop_after": 4}))
    assert part["iteration"] == 4 and not (tmp_path / "metrics.json").exists()
    done = train_or_continue(config)  # resumes from the checkpoint of iteration 4
    assert done["iterations"] == 8 and [h["iteration"] for h in done["history"]] == [4, 8]
    again = train_or_continue(config)  # finished: read back, nothing trained
    assert again["seconds"] == done["seconds"] and again["history"] == done["history"]


def test_evaluate_with_yunet_in_front(tmp_path, weights, capsys):
    limit = 6
    report = evaluate_with_detector(demo_list("val"), weights, limit=limit, upright=None, mirror=False)
    assert report["n_faces_listed"] == limit and report["n_matched"] == limit
    # In one pass on the list's boxes it is isnet evaluate on the same faces, but for the resampling (the
    # API warps each view from the photo in one step, evaluation from a crop): within half a percent.
    first = tmp_path / "first.txt"
    first.write_text("".join(demo_list("val").read_text().splitlines(keepends=True)[:limit]))
    (tmp_path / "lfw_5590").symlink_to(demo_list("val").parent / "lfw_5590")
    (tmp_path / "net_7876").symlink_to(demo_list("val").parent / "net_7876")
    reference = evaluate_list(first, weights).metrics
    on_list = report["on_matched_faces"]["model_on_dataset_boxes"]
    assert on_list["nme_iod"] == pytest.approx(reference["nme_iod"], abs=0.005)
    assert report["on_matched_faces"]["model_on_mapped_yunet_boxes"]["nme_iod"] < 0.10
    upright = evaluate_with_detector(demo_list("val"), weights, limit=limit)
    assert upright["upright_step"] is (ROLL_MODEL.is_file() and QUALITY_FIT.is_file())
    assert upright["on_matched_faces"]["model_on_mapped_yunet_boxes"]["nme_iod"] < 0.10
    out = tmp_path / "d.json"
    argv = ["evaluate", "--list", str(demo_list("val")), "--weights", str(weights), "--detector", "yunet"]
    assert cli.main([*argv, "--limit", str(limit), "--json", str(out), "--quiet"]) == 0
    assert json.loads(out.read_text())["n_matched"] == limit and capsys.readouterr() == ("", "")


def test_a_folder_named_isnet_beside_the_user_does_not_shadow_the_package(tmp_path):
    (tmp_path / "isnet" / "docs").mkdir(parents=True)  # e.g. a clone of this repository
    code = "import isnet; print(isnet.load.__module__)"
    done = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True)
    assert done.returncode == 0 and done.stdout.strip() == "isnet.model", done.stderr
