"""Published results: each has its provenance and its line in benchmarks/README.md, and every path
the README and docs/ cite exists (issue 22). Reads files only; runs offline in milliseconds."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
PROVENANCE_KEYS = ("argv", "commit", "date")
# A path of the repository as the docs cite it: docs/..., benchmarks/..., scripts/...
CITED = re.compile(r"(?<![\w.$/-])(?:\.\./)?((?:docs|benchmarks|scripts)/[\w./-]*[\w/])")


def result_files() -> list[Path]:
    return sorted(p for p in RESULTS.rglob("*") if p.is_file())


def json_results() -> list[Path]:
    return [p for p in result_files() if p.suffix == ".json"]


def rel(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def test_there_are_results():
    assert len(json_results()) > 10


@pytest.mark.parametrize("path", json_results(), ids=rel)
def test_each_json_result_has_its_provenance(path):
    data = json.loads(path.read_text())
    assert isinstance(data, dict) and isinstance(data.get("provenance"), dict), f"{rel(path)}: no provenance block"
    prov = data["provenance"]
    missing = [k for k in PROVENANCE_KEYS if k not in prov]
    assert not missing, f"{rel(path)}: provenance lacks {missing}"
    unknown = [k for k in (*PROVENANCE_KEYS, "versions", "cpu") if k in prov and prov[k] is None]
    if unknown:
        assert "not recorded" in (prov.get("note") or ""), f"{rel(path)}: {unknown} null without a note saying so"
    if prov["argv"] is not None:
        assert isinstance(prov["argv"], list) and all(isinstance(a, str) for a in prov["argv"]), rel(path)
        assert not any("/work/" in a or a.startswith("/home/") for a in prov["argv"]), f"{rel(path)}: machine path"


def test_every_result_has_a_line_in_the_benchmarks_readme():
    readme = (ROOT / "benchmarks" / "README.md").read_text()
    unnamed = [rel(p) for p in result_files() if p.relative_to(ROOT / "benchmarks").as_posix() not in readme]
    assert not unnamed, f"not named in benchmarks/README.md: {unnamed}"


def cited_paths(text: str) -> set[str]:
    return {m.group(1).rstrip(".") for m in CITED.finditer(text)}


def test_cited_paths_matcher():
    text = "see `docs/RESULTS.md`, (docs/x.json). ![c](../benchmarks/results/a.png) $RUNS/docs/no scripts/y.py."
    assert cited_paths(text) == {"docs/RESULTS.md", "docs/x.json", "benchmarks/results/a.png", "scripts/y.py"}


@pytest.mark.parametrize(
    "doc", [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")), ROOT / "benchmarks" / "README.md"], ids=rel
)
def test_every_path_the_docs_cite_exists(doc):
    missing = sorted(p for p in cited_paths(doc.read_text()) if not (ROOT / p).exists())
    assert not missing, f"{rel(doc)} cites paths that do not exist: {missing}"
