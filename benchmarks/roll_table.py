"""The README's roll table (markdown) from two outputs of benchmarks/roll_benchmark.py.

Usage: python benchmarks/roll_table.py benchmarks/results/roll/helen_one_pass.json \\
           benchmarks/results/roll/helen_upright_step.json

Rolls present in both files, in the order of the second; percentages to two decimals,
AUROCs to three, as the JSON holds them (nothing is recomputed).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def cells(rows: dict, rolls: list, key: str, percent: bool) -> str:
    def one(v) -> str:
        if v is None:
            return "-"
        if percent:
            return f"{100 * v:.2f} %"
        return f"{v:.3f}" if isinstance(v, float) else str(v)

    return " | ".join(one(rows[r][key]) for r in rolls)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("before", type=Path)
    p.add_argument("after", type=Path)
    a = p.parse_args()
    before = {r["roll"]: r for r in json.loads(a.before.read_text())["rolls"]}
    after = {r["roll"]: r for r in json.loads(a.after.read_text())["rolls"]}
    rolls = [r for r in after if r in before]
    lines = [
        "| roll (degrees) | " + " | ".join(f"{r:g}" for r in rolls) + " |",
        "| --- |" + " ---: |" * len(rolls),
    ]
    for label, key, percent in (
        ("NME", "nme_ipd_mean", True),
        ("failures (NME > 0.10)", "fr_010", True),
        ("faces not found", "not_found", False),
    ):
        lines.append(f"| {label} before | {cells(before, rolls, key, percent)} |")
        lines.append(f"| {label} now | {cells(after, rolls, key, percent)} |")
    lines.append(f"| quality AUROC now | {cells(after, rolls, 'quality_auroc', False)} |")
    lines.append(f"| detector score AUROC now | {cells(after, rolls, 'score_auroc', False)} |")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
