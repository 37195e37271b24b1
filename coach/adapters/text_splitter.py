"""Long sections cut into overlapping pieces by LangChain's recursive character splitter."""

from __future__ import annotations

from collections.abc import Callable


def recursive_splitter(max_chars: int, overlap: int) -> Callable[[str], list[str]]:
    """Cut at paragraphs, then lines, then sentences, then words, into pieces of at most
    ``max_chars`` characters that share ``overlap`` characters with their neighbours."""
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    splitter = RecursiveCharacterTextSplitter(
        chunk_size=max_chars, chunk_overlap=overlap, separators=["\n\n", "\n", ". ", " ", ""]
    )
    return splitter.split_text
