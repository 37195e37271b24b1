"""en_core_web_sm's attribute ruler (tag to part of speech, morphology and lemma exceptions),
applied with dictionary lookups instead of spaCy's Matcher.

The ruler's 179 patterns are nearly all one token with a plain TAG and/or LOWER. spaCy's
Matcher tries every pattern on every token: 3.6 of a 200-word reflection's 14 ms parse. Here
those patterns are looked up by the token's tag and lower-case form, and only the rest (sets,
regular expressions, dependencies, two tokens) go through a Matcher. Matches are applied in
the ruler's order, later rules winning, exactly as the ruler does; a test compares the two on
every training reflection.
"""

from __future__ import annotations

from collections import defaultdict

from spacy.matcher import Matcher
from spacy.tokens import Doc, Span
from spacy.tokens._retokenize import set_token_attrs

COMPONENT = "coach_attribute_rules"


class AttributeRules:
    """A drop-in for a spaCy AttributeRuler: the same rules, applied the same way."""

    def __init__(self, ruler):
        self.attrs, self.indices = ruler.attrs, ruler.indices
        self.by_tag: dict[str, list[int]] = defaultdict(list)
        self.by_lower: dict[str, list[int]] = defaultdict(list)
        self.by_tag_and_lower: dict[tuple[str, str], list[int]] = defaultdict(list)
        self.matcher = Matcher(ruler.vocab)
        for rule in range(len(ruler.attrs)):
            _, patterns = ruler.matcher.get(str(rule))
            rest = [p for p in patterns if not self._index(rule, p)]
            if rest:
                self.matcher.add(str(rule), rest)

    def _index(self, rule: int, pattern: list[dict]) -> bool:
        """File a one-token pattern of plain TAG and/or LOWER strings under its key."""
        if len(pattern) != 1 or not pattern[0] or set(pattern[0]) - {"TAG", "LOWER"} \
                or not all(isinstance(v, str) for v in pattern[0].values()):
            return False
        tag, lower = pattern[0].get("TAG"), pattern[0].get("LOWER")
        if tag is not None and lower is not None:
            self.by_tag_and_lower[(tag, lower)].append(rule)
        elif tag is not None:
            self.by_tag[tag].append(rule)
        else:
            self.by_lower[lower].append(rule)
        return True

    def __call__(self, doc: Doc) -> Doc:
        matches: list[tuple[int, int, int]] = []
        for token in doc:
            tag, lower, i = token.tag_, token.lower_, token.i
            for rule in (*self.by_tag.get(tag, ()), *self.by_lower.get(lower, ()),
                         *self.by_tag_and_lower.get((tag, lower), ())):
                matches.append((rule, i, i + 1))
        for key, start, end in self.matcher(doc, allow_missing=True, as_spans=False):
            matches.append((int(doc.vocab.strings[key]), start, end))
        matches.sort()  # the ruler's order: by rule, so that later rules win
        for rule, start, end in matches:
            set_token_attrs(Span(doc, start, end)[self.indices[rule]], self.attrs[rule])
        return doc


def use_attribute_rules(nlp) -> None:
    """Swap the pipeline's attribute ruler for AttributeRules built from it."""
    from spacy.language import Language

    Language.component(COMPONENT, func=AttributeRules(nlp.get_pipe("attribute_ruler")))
    nlp.replace_pipe("attribute_ruler", COMPONENT)
