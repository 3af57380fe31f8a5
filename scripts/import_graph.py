"""Print the import graph of the isnet package, each module with its layer, and fail on a cycle.

Usage: python scripts/import_graph.py
A module's layer is one more than the highest layer it imports from (0: imports nothing of isnet).
Imports anywhere in a module count, function-level ones included.
"""

import ast
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "isnet"


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path, modules: set[str]) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("isnet"):
            names = {f"{node.module}.{a.name}" for a in node.names}
            found |= {n for n in names if n in modules} or {node.module}
        elif isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("isnet")}
    return {m for m in found if m in modules and m not in ("isnet", "isnet.commands")}


def main() -> int:
    paths = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}
    graph = {m: imports(p, set(paths)) - {m} for m, p in paths.items() if m not in ("isnet", "isnet.commands")}
    layer: dict[str, int] = {}

    def depth(m: str, stack: tuple[str, ...]) -> int:
        if m in stack:
            raise SystemExit("cycle: " + " -> ".join(stack[stack.index(m) :] + (m,)))
        if m not in layer:
            layer[m] = 1 + max((depth(d, stack + (m,)) for d in graph[m]), default=-1)
        return layer[m]

    for m in graph:
        depth(m, ())
    for m in sorted(graph, key=lambda m: (layer[m], m)):
        deps = ", ".join(sorted(d.removeprefix("isnet.") for d in graph[m])) or "-"
        print(f"{layer[m]}  {m.removeprefix('isnet.'):<20} <- {deps}")
    print(f"{len(graph)} modules, no cycles")
    return 0


if __name__ == "__main__":
    sys.exit(main())
