"""Read .md, .txt, .html, .pdf and .docx files into titled sections."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

SUPPORTED = (".md", ".markdown", ".txt", ".html", ".htm", ".pdf", ".docx")


class UnreadableFile(Exception):
    """The file cannot be ingested; the message is the reason shown to the user."""


@dataclass
class Section:
    headings: list[str]
    text: str
    questions: list[str] = field(default_factory=list)


@dataclass
class LoadedDocument:
    title: str
    front_matter: dict[str, Any] = field(default_factory=dict)
    sections: list[Section] = field(default_factory=list)

    @property
    def total_chars(self) -> int:
        return sum(len(s.text) for s in self.sections)


_HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$")
# Hypothetical questions a section answers, written as <!-- questions: a? | b? -->. They are
# indexed as extra vectors that point at the section (multi-vector retrieval), never shown.
_QUESTIONS = re.compile(r"<!--\s*questions:\s*(.*?)\s*-->", re.S | re.I)
_COMMENT = re.compile(r"<!--.*?-->", re.S)
_FRONT_MATTER = re.compile(r"\A---\s*\n(.*?)\n---\s*(?:\n|\Z)", re.S)


def decode_text(data: bytes, name: str) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise UnreadableFile(
            f"not valid UTF-8 text (byte {exc.start}); save it as UTF-8 and try again"
        ) from None


def parse_markdown(text: str, fallback_title: str) -> LoadedDocument:
    front: dict[str, Any] = {}
    match = _FRONT_MATTER.match(text)
    if match:
        try:
            loaded = yaml.safe_load(match.group(1)) or {}
        except yaml.YAMLError as exc:
            raise UnreadableFile(f"front matter is not valid YAML ({exc.__class__.__name__})")
        if not isinstance(loaded, dict):
            raise UnreadableFile("front matter must be a YAML mapping")
        front = loaded
        text = text[match.end():]
    stack: list[tuple[int, str]] = []
    sections: list[Section] = []
    buffer: list[str] = []
    title = str(front.get("title") or "")
    in_fence = False

    def flush() -> None:
        raw = "\n".join(buffer)
        questions = [q.strip() for m in _QUESTIONS.findall(raw) for q in m.split("|") if q.strip()]
        body = _COMMENT.sub("", raw).strip()
        if body:
            sections.append(Section([h for _, h in stack], body, questions))
        buffer.clear()

    for line in text.splitlines():
        if line.lstrip().startswith(("```", "~~~")):
            in_fence = not in_fence
        heading = None if in_fence else _HEADING.match(line)
        if heading:
            flush()
            level, name = len(heading.group(1)), heading.group(2).strip()
            if level == 1 and not title:
                title = name
            while stack and stack[-1][0] >= level:
                stack.pop()
            stack.append((level, name))
        else:
            buffer.append(line)
    flush()
    return LoadedDocument(title or fallback_title, front, sections)


def load_html(data: bytes, fallback_title: str) -> LoadedDocument:
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(decode_text(data, fallback_title), "html.parser")
    for tag in soup(["script", "style", "noscript", "template", "nav", "footer"]):
        tag.decompose()
    title = soup.title.get_text(" ", strip=True) if soup.title else ""
    if soup.head:
        soup.head.decompose()
    for level in range(1, 7):
        for tag in soup.find_all(f"h{level}"):
            tag.replace_with(f"\n\n{'#' * level} {tag.get_text(' ', strip=True)}\n\n")
    for tag in soup.find_all(["p", "li", "tr", "div", "br", "blockquote", "pre"]):
        tag.insert_after("\n")
    text = re.sub(r"\n{3,}", "\n\n", soup.get_text())
    text = "\n".join(line.strip() for line in text.splitlines())
    doc = parse_markdown(text, title or fallback_title)
    if title:
        doc.title = title
    return doc


def load_pdf(path: Path, fallback_title: str) -> LoadedDocument:
    from pypdf import PdfReader

    try:
        reader = PdfReader(str(path))
        if reader.is_encrypted:
            raise UnreadableFile("the PDF is encrypted; remove the password and try again")
        pages = [(page.extract_text() or "").strip() for page in reader.pages]
        meta_title = (reader.metadata.title if reader.metadata else None) or ""
    except UnreadableFile:
        raise
    except Exception as exc:  # parsers raise many types on corrupt input
        raise UnreadableFile(f"not a readable PDF ({exc.__class__.__name__})") from None
    title = str(meta_title).strip() or fallback_title
    sections = [Section([title, f"Page {i}"], text) for i, text in enumerate(pages, 1) if text]
    return LoadedDocument(title, {}, sections)


def load_docx(path: Path, fallback_title: str) -> LoadedDocument:
    import docx

    try:
        document = docx.Document(str(path))
    except Exception as exc:  # parsers raise many types on corrupt input
        raise UnreadableFile(f"not a readable .docx file ({exc.__class__.__name__})") from None
    lines: list[str] = []
    for paragraph in document.paragraphs:
        text = paragraph.text.strip()
        if not text:
            continue
        style = (paragraph.style.name if paragraph.style is not None else "") or ""
        if style == "Title":
            lines.append(f"# {text}")
        elif style.startswith("Heading"):
            digits = "".join(ch for ch in style if ch.isdigit())
            level = min(int(digits or 1) + 1, 6)
            lines.append(f"{'#' * level} {text}")
        else:
            lines.append(text)
        lines.append("")
    for table in document.tables:
        for row in table.rows:
            lines.append(" | ".join(cell.text.strip() for cell in row.cells))
        lines.append("")
    core_title = (document.core_properties.title or "").strip()
    doc = parse_markdown("\n".join(lines), core_title or fallback_title)
    if core_title:
        doc.title = core_title
    return doc


def load_file(path: Path) -> LoadedDocument:
    """Load one file or raise UnreadableFile with a reason a person can act on."""
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED:
        raise UnreadableFile(
            f"unsupported file type {suffix or '(none)'}; use .md, .txt, .html, .pdf or .docx"
        )
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise UnreadableFile(f"cannot be read ({exc.strerror or exc})") from None
    if not data.strip():
        raise UnreadableFile("the file is empty")
    fallback = path.stem.replace("-", " ").replace("_", " ").strip().capitalize() or path.name
    if suffix in (".md", ".markdown"):
        doc = parse_markdown(decode_text(data, path.name), fallback)
    elif suffix == ".txt":
        text = decode_text(data, path.name)
        doc = LoadedDocument(fallback, {}, [Section([fallback], text.strip())])
    elif suffix in (".html", ".htm"):
        doc = load_html(data, fallback)
    elif suffix == ".pdf":
        doc = load_pdf(path, fallback)
    else:
        doc = load_docx(path, fallback)
    if not doc.sections or doc.total_chars < 20:
        raise UnreadableFile("no readable text in the file")
    return doc
