"""YAML front matter, loaded safely and with alias expansion capped.

yaml.safe_load builds no objects beyond plain data, but it still expands aliases: nine levels
of ten aliases ("billion laughs") describe a billion list items in a few hundred bytes. This
loader counts aliases while composing and measures the expanded size of the node graph (each
shared node counted once per reference, without expanding it) before constructing anything.
"""

from __future__ import annotations

from typing import Any

import yaml

from coach.domain.limits import DEFAULT_LIMITS, ReadLimits


class FrontMatterRefused(ValueError):
    """The front matter is too large or too expansive; the message says which limit."""


class _AliasCountingLoader(yaml.SafeLoader):
    def __init__(self, stream: str, max_aliases: int):
        super().__init__(stream)
        self.max_aliases = max_aliases
        self.aliases = 0

    def compose_node(self, parent, index):
        if self.check_event(yaml.AliasEvent):
            self.aliases += 1
            if self.aliases > self.max_aliases:
                raise FrontMatterRefused(f"its front matter uses more than {self.max_aliases} "
                                         f"YAML aliases; the limit is {self.max_aliases}")
        return super().compose_node(parent, index)


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    return []


def check_expanded_size(root: yaml.Node, max_nodes: int) -> int:
    """The node count with every alias expanded; refuses past ``max_nodes`` or on a cycle."""
    sizes: dict[int, int] = {}
    on_path: set[int] = set()
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, finished = stack.pop()
        key = id(node)
        if finished:
            on_path.discard(key)
            sizes[key] = 1 + sum(sizes[id(child)] for child in _children(node))
            if sizes[key] > max_nodes:
                raise FrontMatterRefused(f"its front matter expands to over {max_nodes:,} YAML "
                                         f"values; the limit is {max_nodes:,}")
            continue
        if key in sizes:
            continue
        if key in on_path:
            raise FrontMatterRefused("its front matter has a YAML alias that contains itself")
        on_path.add(key)
        stack.append((node, True))
        stack.extend((child, False) for child in _children(node) if id(child) not in sizes)
    return sizes[id(root)]


def load_front_matter(text: str, limits: ReadLimits = DEFAULT_LIMITS) -> Any:
    """The YAML document in ``text`` as plain data; FrontMatterRefused or yaml.YAMLError."""
    if len(text) > limits.max_front_matter_chars:
        raise FrontMatterRefused(f"its front matter is over {limits.max_front_matter_chars:,} "
                                 f"characters; the limit is {limits.max_front_matter_chars:,}")
    loader = _AliasCountingLoader(text, limits.max_yaml_aliases)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        check_expanded_size(node, limits.max_yaml_nodes)
        return loader.construct_document(node)
    except RecursionError:
        raise FrontMatterRefused("its front matter is nested too deeply") from None
    finally:
        loader.dispose()
