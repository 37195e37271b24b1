"""The import contracts in pyproject.toml ([tool.importlinter]) catch what they promise to.

`make test` runs `lint-imports` on the real tree; here a copy of the tree is given one
deliberate violation per contract, and the linter must refuse it, naming the import.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("coach", "api", "evals", "tools")


@pytest.fixture(scope="module")
def tree(tmp_path_factory) -> Path:
    copy = tmp_path_factory.mktemp("tree")
    for package in PACKAGES:
        shutil.copytree(ROOT / package, copy / package,
                        ignore=shutil.ignore_patterns("__pycache__", "encoder*", "*.json", "*.html",
                                                      "*.yaml", "static", "migrations"))
    shutil.copy(ROOT / "pyproject.toml", copy / "pyproject.toml")
    return copy


def lint(tree: Path) -> subprocess.CompletedProcess:
    linter = Path(sys.executable).with_name("lint-imports")
    env = dict(os.environ, PYTHONPATH=str(tree))  # the copy, not the installed tree
    return subprocess.run([str(linter), "--no-cache"], cwd=tree, env=env, capture_output=True,
                          text=True, timeout=300)


def violate(tree: Path, module: str, line: str):
    """Append ``line`` to ``module``'s file in the copy; undone on exit."""
    path = tree / (module.replace(".", "/") + ".py")
    original = path.read_text(encoding="utf-8")

    class Undo:
        def __enter__(self):
            path.write_text(original + "\n" + line + "\n", encoding="utf-8")

        def __exit__(self, *exc):
            path.write_text(original, encoding="utf-8")

    return Undo()


def test_the_copied_tree_keeps_every_contract(tree):
    result = lint(tree)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


@pytest.mark.parametrize("module, line, broken, shown", [
    # the domain reaching up into a feature
    ("coach.domain.records", "from coach.features import agenda  # noqa", "Entry points, then",
     "coach.domain.records -> coach.features.agenda"),
    # a feature reaching up into the API
    ("coach.features.chat", "import api.app  # noqa", "Entry points, then",
     "coach.features.chat -> api.app"),
    # two features that are kept apart
    ("coach.health.monitoring", "from coach.features import topics  # noqa", "Entry points, then",
     "coach.health.monitoring -> coach.features.topics"),
    # SQL outside the store
    ("coach.features.topics", "import sqlalchemy  # noqa", "Only the store speaks SQL",
     "coach.features.topics -> sqlalchemy"),
    # a vendor SDK outside the adapters
    ("coach.retrieval.hybrid", "import chromadb  # noqa", "Only the adapters",
     "coach.retrieval.hybrid -> chromadb"),
])
def test_a_deliberate_violation_fails(tree, module, line, broken, shown):
    with violate(tree, module, line):
        result = lint(tree)
    assert result.returncode != 0
    assert "1 broken" in result.stdout
    assert broken in result.stdout.split("Broken contracts")[1]
    assert shown in result.stdout
