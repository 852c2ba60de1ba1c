"""Print the package-level import graph of ``entitlements``: the packages caught in import
cycles, and the imports that point up the layers the import-linter contract in
pyproject.toml writes down (or ``--layers``, for an older tree).

    .venv/bin/python scripts/package_graph.py [--root DIR] [--layers 'cli;app|models;...']
"""

from __future__ import annotations

import argparse
import ast
import sys
import tomllib
from collections import defaultdict
from pathlib import Path


def imports(root: Path) -> dict[str, set[str]]:
    """package -> packages it imports (one level below ``entitlements``; root modules
    count as packages of their own)."""
    package_dir = root / "entitlements"
    graph: dict[str, set[str]] = defaultdict(set)
    for path in package_dir.rglob("*.py"):
        parts = path.relative_to(root).with_suffix("").parts
        here = ".".join(parts[:2]) if len(parts) > 1 else parts[0]
        is_package = parts[-1] == "__init__"
        module = ".".join(parts[:-1] if is_package else parts)
        for node in ast.walk(ast.parse(path.read_text())):
            for target in _targets(node, module, is_package):
                top = ".".join(target.split(".")[:2])
                if top.startswith("entitlements.") and top != here:
                    graph[here].add(top)
        graph.setdefault(here, set())
    return graph


def _targets(node: ast.AST, module: str, is_package: bool) -> list[str]:
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if isinstance(node, ast.ImportFrom):
        if node.level == 0:
            base = node.module or ""
        else:
            parts = module.split(".") if is_package else module.split(".")[:-1]
            parts = parts[: len(parts) - node.level + 1]
            base = ".".join([*parts, *([node.module] if node.module else [])])
        return [f"{base}.{alias.name}" for alias in node.names] + [base]
    return []


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one package (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []
    sys.setrecursionlimit(10_000)

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in graph.get(node, ()):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def layers(root: Path) -> list[list[str]]:
    config = tomllib.loads((root / "pyproject.toml").read_text())
    for contract in config.get("tool", {}).get("importlinter", {}).get("contracts", []):
        if contract.get("type") == "layers":
            container = contract.get("containers", [""])[0]
            return [[f"{container}.{name.strip()}" for name in layer.replace(":", "|").split("|")]
                    for layer in contract["layers"]]
    return []


def upward(graph: dict[str, set[str]], order: list[list[str]]) -> list[tuple[str, str]]:
    level = {name: i for i, names in enumerate(order) for name in names}
    return sorted((a, b) for a, targets in graph.items() for b in targets
                  if a in level and b in level and level[b] < level[a])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", type=Path, default=Path(__file__).resolve().parents[1])
    parser.add_argument("--layers", help="layers to check against, top first, ';' between "
                        "layers and '|' between siblings (default: the contract's)")
    args = parser.parse_args()
    graph = imports(args.root)
    found = cycles(graph)
    print(f"{len(graph)} packages, {sum(len(t) for t in graph.values())} package imports")
    print(f"packages in cycles: {sum(len(c) for c in found)}")
    for component in found:
        print("  cycle:", ", ".join(name.split(".", 1)[1] for name in component))
    order = ([[f"entitlements.{n}" for n in layer.split("|")] for layer in args.layers.split(";")]
             if args.layers else layers(args.root))
    if order:
        against = upward(graph, order)
        print(f"imports pointing up the layers: {len(against)}")
        for source, target in against:
            print(f"  {source} -> {target}")


if __name__ == "__main__":
    main()
