"""One rotated-photo evaluation (issue 23): ``isnet evaluate --rolls`` and the benchmarks share it."""

import json

import pytest

from isnet import cli
from isnet.api import LandmarkDetector
from isnet.assets import ROLL_MODEL, demo_list
from isnet.data import read_sun_list
from isnet.evaluation import evaluate_rolls


def test_evaluate_rolls_is_the_function_the_command_runs(tmp_path, capsys):
    if not ROLL_MODEL.is_file():
        pytest.skip("the upright step's model is not installed")
    out = tmp_path / "rolls.json"
    argv = ["evaluate", "--list", str(demo_list("val")), "--rolls", "0", "60", "--limit", "4", "--json", str(out)]
    assert cli.main(argv) == 0
    printed = capsys.readouterr().out.splitlines()
    assert printed[0].split()[:3] == ["roll", "faces", "not"] and len(printed) == 3
    report = json.loads(out.read_text())
    assert "provenance" in report and [r["roll"] for r in report["rolls"]] == [0, 60]
    direct = evaluate_rolls(LandmarkDetector(), read_sun_list(demo_list("val"))[:4], [0, 60])
    for a, b in zip(report["rolls"], direct["rolls"]):
        assert a == pytest.approx(b)
    assert all(r["n_faces"] == 4 for r in report["rolls"])


def test_rolls_with_a_detector_is_refused_in_one_line(capsys):
    argv = ["evaluate", "--list", str(demo_list("val")), "--rolls", "0", "--detector", "yunet"]
    assert cli.main(argv) == 2
    assert "--rolls reads every photo through YuNet already" in capsys.readouterr().err
