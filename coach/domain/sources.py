"""How a pair's records are named: the scope their index entries live under, and the source a
fact from them is cited by (agendas, topics, chat, and what is forgotten with a reflection)."""

from __future__ import annotations


def pair_scope(pair_id: int) -> str:
    return f"pair:{pair_id}"


def goals_source(pair_id: int) -> str:
    return f"{pair_scope(pair_id)}/goals"


def reflection_source(pair_id: int, reflection_id: int) -> str:
    return f"{pair_scope(pair_id)}/reflection/{reflection_id}"


def action_item_source(pair_id: int, item_id: int) -> str:
    return f"{pair_scope(pair_id)}/action_items/{item_id}"


def is_pair_scope(value: object) -> bool:
    """Whether a scope, or an index entry's id, belongs to a pair's records."""
    return str(value).startswith(pair_scope(0).removesuffix("0"))


def pair_id_of(value: object) -> int:
    """The pair a pair scope, or an index entry's id under one ("pair:3-..."), belongs to."""
    return int(str(value).split(":", 1)[1].split("-")[0].split("/")[0])
