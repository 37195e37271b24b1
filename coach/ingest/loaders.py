"""Read .md, .txt, .html, .pdf and .docx files into titled sections.

Every reader here is linear in the size of its input and stops at the limits in
coach.domain.limits; a file past a limit raises UnreadableFile with a one-line reason.
"""

from __future__ import annotations

import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from coach.domain.limits import DEFAULT_LIMITS, DOCX_RATIO_CHECKED_FROM_BYTES, ReadLimits, megabytes
from coach.ingest.front_matter import FrontMatterRefused, load_front_matter

SUPPORTED = (".md", ".markdown", ".txt", ".html", ".htm", ".pdf", ".docx")
SUPPORTED_HINT = "use .md, .txt, .html, .pdf or .docx"


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


def decode_text(data: bytes, name: str) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise UnreadableFile(
            f"not valid UTF-8 text (byte {exc.start}); save it as UTF-8 and try again"
        ) from None


def check_text_size(chars: int, limits: ReadLimits) -> None:
    if chars > limits.max_text_chars:
        raise UnreadableFile(f"it has over {limits.max_text_chars:,} characters of text; the "
                             f"limit is {limits.max_text_chars:,}, so split it into smaller files")


# -- Markdown ----------------------------------------------------------------------------------
# Plain string scanning instead of regular expressions: the patterns this replaced backtracked
# badly (a 4 KB heading line of spaces took 80 s), and a scan cannot.

def _heading(line: str) -> tuple[int, str] | None:
    """(level, name) for an ATX heading line such as '## Before the session ##'."""
    level = len(line) - len(line.lstrip("#"))
    rest = line[level:]
    if not 1 <= level <= 6 or not rest[:1].isspace():
        return None
    content = rest.strip()
    if not content:
        return None
    name = content.rstrip("#").rstrip()  # closing hashes are decoration
    return level, name or content[:1]


def _split_front_matter(text: str) -> tuple[str | None, str]:
    """(YAML between the '---' lines, the rest), or (None, text) when there is none."""
    first_end = text.find("\n")
    if not text.startswith("---") or first_end < 0 or text[3:first_end].strip():
        return None, text
    start = first_end + 1
    position = start
    while position <= len(text):
        end = text.find("\n", position)
        line = text[position:] if end < 0 else text[position:end]
        if line.rstrip() == "---":
            yaml_text = text[start:max(start, position - 1)]
            return yaml_text, "" if end < 0 else text[end + 1:]
        if end < 0:
            return None, text
        position = end + 1
    return None, text


def _take_comments(raw: str) -> tuple[str, list[str]]:
    """The text without <!-- comments -->, and the hypothetical questions a section answers,
    written as <!-- questions: a? | b? -->. They are indexed as extra vectors that point at the
    section (multi-vector retrieval), never shown. An unclosed comment stays as text."""
    kept: list[str] = []
    questions: list[str] = []
    position = 0
    while True:
        start = raw.find("<!--", position)
        end = raw.find("-->", start + 4) if start >= 0 else -1
        if end < 0:
            kept.append(raw[position:])
            return "".join(kept), questions
        kept.append(raw[position:start])
        inner = raw[start + 4:end].strip()
        if inner[:10].lower() == "questions:":
            questions += [q.strip() for q in inner[10:].split("|") if q.strip()]
        position = end + 3


def parse_front_matter(yaml_text: str, limits: ReadLimits) -> dict[str, Any]:
    try:
        loaded = load_front_matter(yaml_text, limits) or {}
    except FrontMatterRefused as exc:
        raise UnreadableFile(str(exc)) from None
    except yaml.YAMLError as exc:
        raise UnreadableFile(f"front matter is not valid YAML ({exc.__class__.__name__})") from None
    if not isinstance(loaded, dict):
        raise UnreadableFile("front matter must be a YAML mapping")
    return loaded


def parse_markdown(text: str, fallback_title: str, limits: ReadLimits = DEFAULT_LIMITS, *,
                   front_matter: bool = True) -> LoadedDocument:
    """Sections under their heading path. ``front_matter`` is off for text derived from HTML or
    .docx, where a leading '---' is just a rule."""
    front: dict[str, Any] = {}
    if front_matter:
        yaml_text, body = _split_front_matter(text)
        if yaml_text is not None:
            front = parse_front_matter(yaml_text, limits)
            text = body
    stack: list[tuple[int, str]] = []
    sections: list[Section] = []
    buffer: list[str] = []
    title = str(front.get("title") or "")
    in_fence = False

    def flush() -> None:
        body, questions = _take_comments("\n".join(buffer))
        body = body.strip()
        if body:
            sections.append(Section([h for _, h in stack], body, questions))
        buffer.clear()

    for line in text.splitlines():
        if line.lstrip().startswith(("```", "~~~")):
            in_fence = not in_fence
        heading = None if in_fence else _heading(line)
        if heading:
            flush()
            level, name = heading
            if level == 1 and not title:
                title = name
            while stack and stack[-1][0] >= level:
                stack.pop()
            stack.append((level, name))
        else:
            buffer.append(line)
    flush()
    return LoadedDocument(title or fallback_title, front, sections)


# -- HTML --------------------------------------------------------------------------------------
_HTML_SKIPPED = frozenset({"script", "style", "noscript", "template", "nav", "footer", "head"})
_HTML_BREAKS = frozenset({"p", "li", "tr", "div", "br", "blockquote", "pre"})
_HTML_HEADINGS = {f"h{level}": level for level in range(1, 7)}
_HTML_FEED_CHARS = 65_536


class _HtmlLimitReached(Exception):
    pass


class _HtmlText:
    """An lxml parser target: streams the page into Markdown-like text (headings as '#'),
    building no tree, and stops the parse as soon as a limit is passed."""

    def __init__(self, limits: ReadLimits):
        self.limits = limits
        self.parts: list[str] = []
        self.chars = 0
        self.elements = 0
        self.depth = 0
        self.skipping = 0
        self.title: list[str] | None = None
        self.in_title = False
        self.heading: tuple[int, list[str]] | None = None

    def _count(self, chars: int) -> None:
        self.chars += chars
        if self.chars > self.limits.max_text_chars:
            raise _HtmlLimitReached(f"it has over {self.limits.max_text_chars:,} characters of "
                                    f"text; the limit is {self.limits.max_text_chars:,}")

    def _emit(self, text: str) -> None:
        self._count(len(text))
        self.parts.append(text)

    def _close_heading(self) -> None:
        level, words = self.heading
        self.heading = None
        self.parts.append(f"\n\n{'#' * level} {' '.join(''.join(words).split())}\n\n")

    def start(self, tag, attrib) -> None:
        self.elements += 1
        if self.elements > self.limits.max_html_elements:
            raise _HtmlLimitReached(f"it has over {self.limits.max_html_elements:,} HTML "
                                    f"elements; the limit is {self.limits.max_html_elements:,}")
        self.depth += 1
        if self.depth > self.limits.max_html_depth:
            raise _HtmlLimitReached(f"its HTML is nested over {self.limits.max_html_depth:,} "
                                    f"levels deep (unclosed tags); the limit is "
                                    f"{self.limits.max_html_depth:,}")
        tag = tag.lower() if isinstance(tag, str) else ""
        if tag == "title" and self.title is None:
            self.title, self.in_title = [], True
        if tag in _HTML_SKIPPED:
            self.skipping += 1
        elif not self.skipping and tag in _HTML_HEADINGS and self.heading is None:
            self.heading = (_HTML_HEADINGS[tag], [])

    def end(self, tag) -> None:
        self.depth -= 1
        tag = tag.lower() if isinstance(tag, str) else ""
        if tag == "title":
            self.in_title = False
        if tag in _HTML_SKIPPED:
            self.skipping = max(0, self.skipping - 1)
        elif self.skipping:
            return
        elif self.heading is not None:
            if _HTML_HEADINGS.get(tag) == self.heading[0]:
                self._close_heading()
        elif tag in _HTML_BREAKS:
            self._emit("\n")

    def data(self, text: str) -> None:
        if self.in_title and self.title is not None:
            self.title.append(text)
        elif self.skipping:
            return
        elif self.heading is not None:
            self._count(len(text))
            self.heading[1].append(text)
        else:
            self._emit(text)

    def close(self) -> None:
        if self.heading is not None:  # a heading the page never closed
            self._close_heading()


def load_html(data: bytes, fallback_title: str,
              limits: ReadLimits = DEFAULT_LIMITS) -> LoadedDocument:
    from lxml import etree

    source = decode_text(data, fallback_title)
    target = _HtmlText(limits)
    parser = etree.HTMLParser(target=target, no_network=True, remove_comments=True)
    try:
        for start in range(0, len(source), _HTML_FEED_CHARS):
            parser.feed(source[start:start + _HTML_FEED_CHARS])
        parser.close()
    except _HtmlLimitReached as exc:
        raise UnreadableFile(str(exc)) from None
    except etree.LxmlError as exc:
        raise UnreadableFile(f"not readable HTML ({exc.__class__.__name__})") from None
    title = " ".join("".join(target.title or []).split())
    text = re.sub(r"\n{3,}", "\n\n", "".join(target.parts))
    text = "\n".join(line.strip() for line in text.splitlines())
    doc = parse_markdown(text, title or fallback_title, limits, front_matter=False)
    if title:
        doc.title = title
    return doc


# -- PDF ---------------------------------------------------------------------------------------
def load_pdf(path: Path, fallback_title: str,
             limits: ReadLimits = DEFAULT_LIMITS) -> LoadedDocument:
    from pypdf import PdfReader

    try:
        reader = PdfReader(str(path))
        if reader.is_encrypted:
            raise UnreadableFile("the PDF is encrypted; remove the password and try again")
        count = len(reader.pages)
        if count > limits.max_pdf_pages:
            raise UnreadableFile(f"the PDF has {count:,} pages; the limit is "
                                 f"{limits.max_pdf_pages:,}, so split it into smaller files")
        pages, chars = [], 0
        for page in reader.pages:  # the reader's time limit bounds a slow page
            pages.append((page.extract_text() or "").strip())
            chars += len(pages[-1])
            check_text_size(chars, limits)
        meta_title = (reader.metadata.title if reader.metadata else None) or ""
    except UnreadableFile:
        raise
    except Exception as exc:  # parsers raise many types on corrupt input
        raise UnreadableFile(f"not a readable PDF ({exc.__class__.__name__})") from None
    title = str(meta_title).strip() or fallback_title
    sections = [Section([title, f"Page {i}"], text) for i, text in enumerate(pages, 1) if text]
    return LoadedDocument(title, {}, sections)


# -- .docx -------------------------------------------------------------------------------------
def check_docx_archive(path: Path, limits: ReadLimits = DEFAULT_LIMITS) -> None:
    """Refuse a .docx whose parts would inflate past the limits, before anything is inflated."""
    try:
        with zipfile.ZipFile(path) as archive:
            parts = archive.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError) as exc:
        raise UnreadableFile(f"not a readable .docx file ({exc.__class__.__name__})") from None
    if len(parts) > limits.max_docx_parts:
        raise UnreadableFile(f"the .docx has {len(parts):,} parts; the limit is "
                             f"{limits.max_docx_parts:,}")
    xml = sum(p.file_size for p in parts if p.filename.lower().endswith((".xml", ".rels")))
    total = sum(p.file_size for p in parts)
    packed = sum(p.compress_size for p in parts)
    if xml > limits.max_docx_xml_bytes:
        raise UnreadableFile(f"the .docx expands to {megabytes(xml)} of XML; the limit is "
                             f"{megabytes(limits.max_docx_xml_bytes)}")
    if total > limits.max_docx_total_bytes:
        raise UnreadableFile(f"the .docx expands to {megabytes(total)}; the limit is "
                             f"{megabytes(limits.max_docx_total_bytes)}")
    ratio = total / max(packed, 1)
    if total >= DOCX_RATIO_CHECKED_FROM_BYTES and ratio > limits.max_docx_compression_ratio:
        raise UnreadableFile(f"the .docx is compressed {ratio:,.0f} to 1, as zip bombs are; the "
                             f"limit is {limits.max_docx_compression_ratio:,.0f} to 1")


def load_docx(path: Path, fallback_title: str,
              limits: ReadLimits = DEFAULT_LIMITS) -> LoadedDocument:
    check_docx_archive(path, limits)
    import docx

    try:
        document = docx.Document(str(path))
    except Exception as exc:  # parsers raise many types on corrupt input
        raise UnreadableFile(f"not a readable .docx file ({exc.__class__.__name__})") from None
    lines: list[str] = []
    chars = 0
    for paragraph in document.paragraphs:
        text = paragraph.text.strip()
        if not text:
            continue
        chars += len(text)
        check_text_size(chars, limits)
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
            chars += len(lines[-1])
            check_text_size(chars, limits)
        lines.append("")
    core_title = (document.core_properties.title or "").strip()
    doc = parse_markdown("\n".join(lines), core_title or fallback_title, limits,
                         front_matter=False)
    if core_title:
        doc.title = core_title
    return doc


# -- any file ----------------------------------------------------------------------------------
def load_file(path: Path, limits: ReadLimits = DEFAULT_LIMITS) -> LoadedDocument:
    """Load one file or raise UnreadableFile with a reason a person can act on.

    Call it through coach.ingest.isolation.IsolatedReader for untrusted files: the limits here
    bound size, and the reader adds a wall-clock limit and a memory limit."""
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED:
        raise UnreadableFile(f"unsupported file type {suffix or '(none)'}; {SUPPORTED_HINT}")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise UnreadableFile(f"cannot be read ({exc.strerror or exc})") from None
    if not data.strip():
        raise UnreadableFile("the file is empty")
    fallback = path.stem.replace("-", " ").replace("_", " ").strip().capitalize() or path.name
    if suffix in (".md", ".markdown"):
        text = decode_text(data, path.name)
        check_text_size(len(text), limits)
        doc = parse_markdown(text, fallback, limits)
    elif suffix == ".txt":
        text = decode_text(data, path.name)
        check_text_size(len(text), limits)
        doc = LoadedDocument(fallback, {}, [Section([fallback], text.strip())])
    elif suffix in (".html", ".htm"):
        doc = load_html(data, fallback, limits)
    elif suffix == ".pdf":
        doc = load_pdf(path, fallback, limits)
    else:
        doc = load_docx(path, fallback, limits)
    if not doc.sections or doc.total_chars < 20:
        raise UnreadableFile("no readable text in the file")
    return doc
