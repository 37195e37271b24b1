"""Jinja2 prompt templates from prompts/, with their variables checked before rendering.

Each template defines ``{% block system %}`` and ``{% block user %}``. Untrusted text (guidelines,
pair records, reflections, chat messages) goes through the ``data`` filter, which fences it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, meta, select_autoescape

from coach.domain.errors import CoachError
from coach.text.sentences import fence

PROMPTS_DIR = Path(__file__).resolve().parents[2] / "prompts"


class PromptError(CoachError):
    code = "prompt_error"


class PromptLibrary:
    def __init__(self, directory: Path = PROMPTS_DIR):
        if not directory.is_dir():
            raise PromptError(f"No prompts folder at {directory}. Reinstall the coach.")
        self.env = Environment(
            loader=FileSystemLoader(str(directory)),
            undefined=StrictUndefined,
            autoescape=select_autoescape(default=False),
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=False,
        )
        self.env.filters["data"] = fence
        self._variables: dict[str, set[str]] = {}

    def variables(self, name: str) -> set[str]:
        if name not in self._variables:
            source = self.env.loader.get_source(self.env, name)[0]  # type: ignore[union-attr]
            self._variables[name] = meta.find_undeclared_variables(self.env.parse(source))
        return self._variables[name]

    def render(self, name: str, **values: Any) -> list[dict[str, str]]:
        """Render to chat messages; every template variable must be given, and nothing else."""
        expected = self.variables(name)
        missing, extra = expected - values.keys(), values.keys() - expected
        if missing or extra:
            raise PromptError(
                f"Prompt {name}: missing variables {sorted(missing)}, unexpected {sorted(extra)}."
            )
        template = self.env.get_template(name)
        context = template.new_context(values)
        messages = []
        for role in ("system", "user"):
            if role not in template.blocks:
                raise PromptError(f"Prompt {name} has no {{% block {role} %}}.")
            text = "".join(template.blocks[role](context)).strip()
            messages.append({"role": role, "content": text})
        return messages
