"""Every limit on reading a document, in one place.

An uploaded file is untrusted input read on a shared machine. Each limit turns a file that
would cost minutes of CPU or gigabytes of memory into a one-line refusal; the values leave room
for any real programme document (a long guideline is a few hundred kilobytes of text).
"""

from __future__ import annotations

from dataclasses import dataclass

# Whole-file limits, checked by the reader.
MAX_TEXT_CHARS = 2_000_000          # extracted text of one file (about 1,000 pages)
MAX_PASSAGES_PER_FILE = 5_000       # index entries one file may add (chunks plus questions)
# HTML: elements seen while streaming; a parse stops as soon as a limit is passed. libxml2
# looks through the open elements for each end tag, so unbounded nesting made tag soup
# quadratic (40,000 unclosed <div> and 40,000 stray end tags: 3.8 s); 256 levels keep every
# such search short (10 MB of stray end tags under 256 levels: 2 s).
MAX_HTML_ELEMENTS = 100_000
MAX_HTML_DEPTH = 256
# .docx is a zip: its declared sizes are checked before anything is inflated (zipfile
# itself stops each part at its declared size, so a lying header cannot get past them).
MAX_DOCX_PARTS = 1_000
MAX_DOCX_XML_BYTES = 8_000_000
MAX_DOCX_TOTAL_BYTES = 64_000_000
MAX_DOCX_COMPRESSION_RATIO = 200    # Word's own files stay far below; deflate tops out at ~1032
DOCX_RATIO_CHECKED_FROM_BYTES = 1_000_000   # tiny archives may compress oddly; they are harmless
MAX_PDF_PAGES = 500
# YAML front matter: aliases let 341 bytes describe a million nodes, so both are capped.
MAX_FRONT_MATTER_CHARS = 20_000
MAX_YAML_ALIASES = 20
MAX_YAML_NODES = 5_000              # counted with every alias expanded

# The reading child process (see coach.ingest.isolation).
SECONDS_PER_FILE = 30.0             # wall clock; the child is killed when a file takes longer
READER_MEMORY_BYTES = 1_500_000_000   # address space of the child (Linux)


@dataclass(frozen=True)
class ReadLimits:
    """The limits one read applies; tests shrink them to reach a limit with a small file."""

    max_text_chars: int = MAX_TEXT_CHARS
    max_passages: int = MAX_PASSAGES_PER_FILE
    max_html_elements: int = MAX_HTML_ELEMENTS
    max_html_depth: int = MAX_HTML_DEPTH
    max_docx_parts: int = MAX_DOCX_PARTS
    max_docx_xml_bytes: int = MAX_DOCX_XML_BYTES
    max_docx_total_bytes: int = MAX_DOCX_TOTAL_BYTES
    max_docx_compression_ratio: float = MAX_DOCX_COMPRESSION_RATIO
    max_pdf_pages: int = MAX_PDF_PAGES
    max_front_matter_chars: int = MAX_FRONT_MATTER_CHARS
    max_yaml_aliases: int = MAX_YAML_ALIASES
    max_yaml_nodes: int = MAX_YAML_NODES


DEFAULT_LIMITS = ReadLimits()


def megabytes(n: int) -> str:
    """Bytes for a message: 20000166 -> '20 MB' (decimal, as the limits are written)."""
    value = n / 1_000_000
    return f"{value:.0f} MB" if value >= 10 or value == int(value) else f"{value:.1f} MB"
