"""The import structure of the app package stays simple (scripts/dev/layers.py measures it)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "dev" / "layers.py"


def _measure() -> dict:
    spec = importlib.util.spec_from_file_location("layers", SCRIPT)
    layers = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(layers)
    return layers.measure()


def test_the_structure_meets_its_targets():
    found = _measure()
    assert found["cycles"] == [], "import cycles"
    assert found["unplaced"] == [], "every top-level package has a layer"
    # At most three imports up a layer, each justified by a comment at the import.
    assert len(found["upward"]) <= 3, found["upward"]
    for module, line, target, _kind in found["upward"]:
        path = Path(__file__).resolve().parents[2] / (module.replace(".", "/") + ".py")
        if not path.exists():
            path = path.with_suffix("") / "__init__.py"
        above = path.read_text().splitlines()[line - 2]
        assert above.lstrip().startswith("#"), f"{module}:{line} imports {target} without a comment saying why"
    assert len(found["hidden"]) <= 5, found["hidden"]
    assert found["long_files"] == [], "no file over 350 lines"
