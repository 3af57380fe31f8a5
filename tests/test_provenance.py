"""Every published result says where it came from (isnet.provenance)."""

import json

from conftest import REPO

from isnet.provenance import portable, stamp, write_result


def test_paths_are_written_as_the_docs_write_them(monkeypatch, tmp_path, tmp_path_factory):
    shared = REPO.parent / "shared" / "data"
    assert portable(str(shared / "ibug_300w" / "helen_testset")) == "$IBUG/helen_testset"
    assert portable(str(shared / "cuhk_facepoint")) == "$DATA"
    assert portable(str(REPO / "benchmarks" / "results" / "x.json")) == "benchmarks/results/x.json"
    monkeypatch.setenv("RUNS", str(tmp_path))
    assert portable(str(tmp_path / "ibug68" / "val.txt")) == "$RUNS/ibug68/val.txt"
    venv = tmp_path_factory.mktemp("mpvenv")
    monkeypatch.setenv("MPVENV", str(venv))
    assert portable(str(venv / "bin" / "python")) == "$MPVENV/bin/python"
    assert portable(str(REPO.parent / "shared" / "models" / "face_landmarker.task")) == "$MODELS/face_landmarker.task"
    assert portable("--quiet") == "--quiet" and portable("0.5") == "0.5"


def test_a_result_opens_with_its_stamp(tmp_path):
    path = write_result(tmp_path / "deep" / "r.json", {"nme": 0.031}, argv=["/somewhere/.venv/bin/isnet", "evaluate"])
    data = json.loads(path.read_text())
    assert list(data) == ["provenance", "nme"] and data["nme"] == 0.031
    p = data["provenance"]
    assert p["argv"] == ["isnet", "evaluate"]
    assert set(p) >= {"argv", "commit", "versions", "python", "cpu", "logical_cpus", "date"}
    assert p["versions"]["numpy"] and p["date"].endswith("+00:00")
    assert stamp(["benchmarks/x.py"])["argv"] == ["benchmarks/x.py"]
