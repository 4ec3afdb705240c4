"""The packages form layers, and every import points down: a package imports only packages of lower layers.

    common  <-  scoring, benchmarks  <-  perturb  <-  evaluation  <-  reports  <-  pipeline, summary  <-  scripts

So a reader can take the layers bottom up, and a change to a report cannot break scoring.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from fixtures import ROOT

LAYERS = {"common": 0, "scoring": 1, "benchmarks": 1, "perturb": 2, "evaluation": 3, "reports": 4, "pipeline": 5,
          "summary": 5}


def imported_packages(file: Path) -> set[str]:
    """The repository's packages a module imports, at any depth of its code."""
    found = set()
    for node in ast.walk(ast.parse(file.read_text(), str(file))):
        if isinstance(node, ast.Import):
            found |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module.split(".")[0])
    return found & set(LAYERS)


def test_every_package_has_a_layer():
    packages = {p.parent.name for p in ROOT.glob("*/__init__.py")}
    assert packages == set(LAYERS)


@pytest.mark.parametrize("package", sorted(LAYERS))
def test_imports_point_down(package):
    upward = [f"{file.relative_to(ROOT)} imports {other}" for file in sorted((ROOT / package).glob("*.py"))
              for other in imported_packages(file) if other != package and LAYERS[other] >= LAYERS[package]]
    assert not upward, upward
