"""The support check every validator uses: words, and also negation, numbers and days."""

import pytest

from coach.fakes import FakeChatModel
from coach.services.guard import guarded_generate
from coach.services.text import is_supported, join_sentences, specifics, split_sentences

SOURCE = ("Good session. Amara will send Graham the checklist by Wednesday. "
          "We lost ten minutes because the laptop froze. He did not try the assistant yet.")


@pytest.mark.parametrize("claim, supported", [
    ("Amara will send Graham the checklist by Wednesday.", True),
    ("By Wednesday Amara is sending Graham the checklist.", True),
    ("Amara will not send Graham the checklist by Wednesday.", False),  # negation flipped
    ("Amara will send Graham the checklist by Friday.", False),  # day swapped
    ("We lost twenty minutes because the laptop froze.", False),  # number swapped
    ("Ten minutes were lost because the laptop froze.", True),
    ("He did not try the assistant yet.", True),
    ("He tried the assistant.", False),  # the source says he did not
])
def test_support_reads_negation_numbers_and_days(claim, supported):
    assert is_supported(claim, [SOURCE]) is supported


def test_specifics_are_numbers_days_and_months():
    assert specifics("Send it by Fri 14/3, two copies, in May") == {"fri", "14/3", "two"}
    assert specifics("We may meet on Thursday in March") == {"thu", "mar"}


def test_joined_notes_split_back_into_the_same_sentences():
    lines = ["Session 5 - AI proposals", "me: send the four questions by Tue.", "went well!"]
    assert split_sentences(join_sentences(lines)) == \
        ["Session 5 - AI proposals.", "Me: send the four questions by Tue.", "Went well!"]


def test_provenance_says_whether_the_model_changed_the_result():
    schema = {"type": "object", "properties": {"pick": {"type": "integer"}},
              "required": ["pick"]}
    def run(reply):
        return guarded_generate(task="t", backend="fake", model=FakeChatModel([reply]), composed=1,
                                validate=lambda v: [] if v in (1, 2) else ["bad"],
                                messages=lambda: [], schema=schema,
                                merge=lambda data, _c: data["pick"])
    assert run('{"pick": 2}').provenance.changed is True
    assert run('{"pick": 1}').provenance.changed is False  # accepted, but the same
    bad = run('{"pick": 3}').provenance
    assert bad.fallback and not bad.changed
