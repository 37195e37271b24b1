"""The support check every validator uses: words, and also negation, numbers and days."""

import pytest

from coach.adapters.fakes import FakeChatModel
from coach.generation.guard import guarded_generate
from coach.text.sentences import is_supported, join_sentences, specifics, split_sentences

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
    assert specifics("Send it by Fri 14/3, two copies, in May") == {"fri", "14/3", "14 mar", "two"}
    assert specifics("We may meet on Thursday in March") == {"thu", "mar"}


def test_specifics_read_a_date_as_one_unit_and_relative_times_by_meaning():
    # "20 April" is not stated by a text that says "20%" and "30 April"
    assert "20 apr" in specifics("Charles is to ask HR by 20 April.")
    assert not specifics("Charles is to ask HR by 20 April.") <= \
        specifics("Take-up remains below 20%. Charles to ask HR by 30 April.")
    assert specifics("by April 20th") >= {"20 apr"} and specifics("by 3/14") >= {"14 mar"}
    assert specifics("she'll send it tmrw") == specifics("by tomorrow") == {"in 1 days"}
    assert specifics("in a fortnight") == {"in 14 days"} <= specifics("in 14 days")
    assert specifics("after Easter") != specifics("after Christmas")
    assert specifics("by the end of the month") == specifics("by end of month") == {"month_end"}
    assert "next_week" in specifics("Jade will send it next week")
    assert specifics("by the 10th") == {"10", "day 10"} and specifics("last term") == {"last term"}


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
