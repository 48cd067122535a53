"""Measure the import structure of the app package: cycles, imports up the layers, hidden imports.

    .venv/bin/python scripts/dev/layers.py            # the figures, then each finding
    .venv/bin/python scripts/dev/layers.py --quiet    # the figures only

Layers, lowest first (a module may import its own layer and those below):

- foundation: configuration, extensions, view access declarations, database plumbing, input parsing, paging and lists,
  translations, mail, cache helpers, error pages, observability, background jobs;
- core: security (roles, scope, limits), personal data keys and sealing, the audit log, system settings;
- domain: users, sign-in, the platform's data, backups, privacy (requests, erasure), consent, usage analytics,
  session replay, Web Push;
- surfaces: dashboard, analytics pages, jump search, the JSON API, the installable portal (manifest,
  service worker).

Inside a package, ``routes``/``*_routes``/``views``/``cli`` modules are its surface: a
service module importing one of them counts as an import up. ``app/__init__.py`` is the
factory and may import anything. A function-level import is an ``import`` statement inside
a function body, except in a package's ``init_app`` (part of the factory). A package's
``__init__`` importing its own modules (the blueprint idiom) does not make a cycle.
"""

from __future__ import annotations

import argparse
import ast
import sys
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
APP = ROOT / "app"
LAYERS = {
    "foundation": ("config", "vapid", "redis_clients", "extensions", "access_rules", "database", "escaping", "events",
                   "formatting", "inputs", "pagination", "listing", "i18n", "mail", "caching", "errors",
                   "observability", "jobs"),
    "core": ("security", "personal_data", "audit", "settings"),
    "domain": ("users", "auth", "platform", "backups", "privacy", "consent", "analytics", "replay", "push"),
    "surfaces": ("dashboard", "insights", "search", "api", "pwa"),
}
RANK = {part: rank for rank, parts in enumerate(LAYERS.values()) for part in parts}
FACTORY = "app"


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(APP.rglob("*.py"))}


def resolve(name: str, known: dict[str, Path]) -> str | None:
    """The app module an import names (``app.x.y`` → the longest known prefix)."""
    while name and name not in known:
        name = name.rpartition(".")[0]
    return name or None


def imports_of(module: str, path: Path, known) -> list[tuple[str, int, bool]]:
    """(imported module, line, inside a function) for every import of an app module."""
    tree = ast.parse(path.read_text(), str(path))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = []

    def visit(node, in_function: bool):
        for child in ast.iter_child_nodes(node):
            nested = in_function or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
            if (path.name == "__init__.py" and isinstance(child, ast.FunctionDef) and child.name == "init_app"
                    and not in_function):
                nested = False  # a package's init_app is part of the factory: it may import at call time
            if isinstance(child, ast.Import):
                for alias in child.names:
                    if alias.name.startswith("app"):
                        target = resolve(alias.name, known)
                        if target:
                            found.append((target, child.lineno, in_function))
            elif isinstance(child, ast.ImportFrom):
                base = child.module or ""
                if child.level:
                    anchor = package.split(".")
                    anchor = anchor[: len(anchor) - (child.level - 1)]
                    base = ".".join(anchor + ([base] if base else []))
                if base == "app" or base.startswith("app."):
                    for alias in child.names:
                        target = resolve(f"{base}.{alias.name}", known)
                        if target and target != module:
                            found.append((target, child.lineno, in_function))
            elif isinstance(child, ast.If) and _is_type_checking(child.test):
                continue  # annotations only: not an import at run time
            visit(child, nested)

    visit(tree, False)
    return found


def _is_type_checking(test) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def top_package(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else FACTORY


def is_surface(module: str) -> bool:
    last = module.rsplit(".", 1)[-1]
    return last in ("routes", "views", "cli") or last.endswith("_routes") or ".routes." in module + "."


def strongly_connected(graph: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's algorithm: the cycles (components of more than one module)."""
    index, low, stack, on_stack, result, counter = {}, {}, [], set(), [], [0]
    sys.setrecursionlimit(10_000)

    def connect(node):
        index[node] = low[node] = counter[0]
        counter[0] += 1
        stack.append(node)
        on_stack.add(node)
        for nxt in graph.get(node, ()):
            if nxt not in index:
                connect(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                result.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            connect(node)
    return result


def measure() -> dict:
    known = modules()
    graph: dict[str, set[str]] = defaultdict(set)
    upward, hidden, long_files = [], [], []
    for module, path in known.items():
        lines = len(path.read_text().splitlines())
        if lines > 350:
            long_files.append((module, lines))
        if module == FACTORY:
            continue
        for target, line, in_function in imports_of(module, path, known):
            if target == FACTORY:
                continue
            if not (path.name == "__init__.py" and target.startswith(module + ".")):
                # A package's __init__ registering its own modules (the blueprint idiom) is not a cycle.
                graph[module].add(target)
            if in_function:
                hidden.append((module, line, target))
            source_rank, target_rank = RANK.get(top_package(module)), RANK.get(top_package(target))
            same_package = top_package(module) == top_package(target)
            if source_rank is not None and target_rank is not None and target_rank > source_rank:
                upward.append((module, line, target, "layer"))
            elif same_package and is_surface(target) and not is_surface(module) and not module.endswith(
                    top_package(module)):
                upward.append((module, line, target, "surface"))
    return {"cycles": strongly_connected(graph), "upward": upward, "hidden": hidden, "long_files": long_files,
            "unplaced": sorted({top_package(m) for m in known} - set(RANK) - {FACTORY})}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quiet", action="store_true")
    args = parser.parse_args(argv)
    found = measure()
    print(f"import cycles: {len(found['cycles'])} "
          f"(modules in them: {sum(len(c) for c in found['cycles'])})")
    print(f"imports from a lower layer up: {len(found['upward'])}")
    print(f"function-level imports of app modules outside the factory: {len(found['hidden'])}")
    print(f"files over 350 lines: {len(found['long_files'])}")
    if found["unplaced"]:
        print(f"packages with no layer: {', '.join(found['unplaced'])}")
    if not args.quiet:
        for cycle in found["cycles"]:
            print("cycle:", " -> ".join(cycle))
        for module, line, target, kind in found["upward"]:
            print(f"up ({kind}): {module}:{line} imports {target}")
        for module, line, target in found["hidden"]:
            print(f"in a function: {module}:{line} imports {target}")
        for module, lines in found["long_files"]:
            print(f"long: {module} ({lines} lines)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
