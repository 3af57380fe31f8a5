"""The README's roll table (markdown) from outputs of benchmarks/roll_benchmark.py.

Usage: python benchmarks/roll_table.py benchmarks/results/roll/helen_one_pass.json \\
           benchmarks/results/roll/helen_before_stages.json benchmarks/results/roll/helen_stages.json

The first file gives the one-pass row (NME only), the second the rows of the pipeline before,
the third (the rolls and their order) those of now, with its network views per face. Percentages
to two decimals, AUROCs to three, as the JSON holds them (nothing is recomputed); "-": not
measured at that roll, or no failure to rank.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def one(v, percent: bool) -> str:
    if v is None:
        return "-"
    if percent:
        return f"{100 * v:.2f} %"
    return f"{v:.3f}" if isinstance(v, float) else str(v)


def table(one_pass: dict, before: dict, now: dict, before_name: str) -> str:
    rolls = [r["roll"] for r in now["rolls"]]
    rows = {name: {r["roll"]: r for r in d["rolls"]} for name, d in (("one", one_pass), ("b", before), ("n", now))}

    def cells(name: str, key: str, percent: bool) -> str:
        return " | ".join(one(rows[name].get(r, {}).get(key), percent) for r in rolls)

    def pair(key: str, percent: bool) -> str:
        return " | ".join(
            f"{one(rows['b'].get(r, {}).get(key), percent)} / {one(rows['n'][r].get(key), percent)}" for r in rolls
        )

    views = " | ".join(f"{sum(rows['n'][r]['views_per_face'].values()):.1f}" for r in rolls)
    lines = [
        "| roll (degrees) | " + " | ".join(f"{r:g}" for r in rolls) + " |",
        "| --- |" + " ---: |" * len(rolls),
        f"| NME, one pass (before the upright step) | {cells('one', 'nme_ipd_mean', True)} |",
        f"| NME, {before_name} | {cells('b', 'nme_ipd_mean', True)} |",
        f"| NME, now | {cells('n', 'nme_ipd_mean', True)} |",
        f"| failures (NME > 0.10), {before_name} | {cells('b', 'fr_010', True)} |",
        f"| failures, now | {cells('n', 'fr_010', True)} |",
        f"| faces not found, {before_name} / now | {pair('not_found', False)} |",
        f"| quality AUROC, {before_name} / now | {pair('quality_auroc', False)} |",
        f"| network views per face, now | {views} |",
    ]
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("one_pass", type=Path)
    p.add_argument("before", type=Path)
    p.add_argument("now", type=Path)
    p.add_argument("--before-name", default="143f591")
    a = p.parse_args()
    d = [json.loads(f.read_text()) for f in (a.one_pass, a.before, a.now)]
    print(table(*d, a.before_name))
    print()
    print(
        f"Quality AUROC over all rolls: {d[2]['all_rolls']['quality_auroc']:.3f} now, "
        f"{d[1]['all_rolls']['quality_auroc']:.3f} at {a.before_name}."
    )


if __name__ == "__main__":
    main()
