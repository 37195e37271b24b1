"""Commands that need no model start without loading one: no torch, no sentence-transformers,
no llama.cpp, no spaCy. `coach bench` measures how long they take; this keeps them light."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
HEAVY = ("torch", "sentence_transformers", "transformers", "llama_cpp", "spacy", "sklearn",
         "langchain_chroma", "langchain_huggingface")

PROBE = f"""
import json, sys
from coach.cli import run
code = run(sys.argv[1:])
print(json.dumps({{"code": code, "loaded": [m for m in {HEAVY!r} if m in sys.modules]}}))
"""


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("startup")
    setup = ("from coach.container import Container; from coach.settings import Settings; "
             "c = Container(Settings()); c.db.migrate(); c.store.create_programme('Startup')")
    subprocess.run([sys.executable, "-c", setup], env=_env(folder), check=True, cwd=ROOT,
                   timeout=120)
    return folder


def _env(folder: Path) -> dict[str, str]:
    return dict(os.environ, COACH_DATA_DIR=str(folder), HF_HUB_OFFLINE="1",
                ANONYMIZED_TELEMETRY="False")


@pytest.mark.parametrize("argv", [["pairs", "list"], ["users", "list"], ["health"],
                                  ["health", "--format", "csv"], ["programme", "show"],
                                  ["doctor"]])
def test_a_command_that_needs_no_model_loads_none(data_dir, argv):
    done = subprocess.run([sys.executable, "-c", PROBE, *argv], env=_env(data_dir), cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result == {"code": 0, "loaded": []}, done.stderr[-2000:]
