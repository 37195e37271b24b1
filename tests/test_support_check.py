"""The learned support check (coach.generation.support) and the rules around its model."""

import numpy as np
import pytest

from coach.generation.support import FEATURES, PACKAGED, SupportCheck, SupportModel, in_third_person

NAMES = {"Farah Ali": "mentor", "Farah": "mentor", "Jonathan Price": "mentee", "Jonathan": "mentee"}
REFLECTION = ("Farah showed me the expense app. I'll switch my budget tracker to co-authoring by "
              "Friday, and she will send me the finance team's guide.")


def bag_of_words(texts):
    """A deterministic stand-in for MiniLM: hashed words, unit length."""
    out = np.zeros((len(texts), 64), dtype=np.float32)
    for row, text in enumerate(texts):
        for word in text.lower().split():
            out[row, hash(word.strip(".,")) % 64] += 1
    norms = np.linalg.norm(out, axis=1, keepdims=True)
    return out / np.where(norms == 0, 1, norms)


def always(probability_above: bool) -> SupportModel:
    """A model whose answer does not depend on the features."""
    width = len(FEATURES)
    return SupportModel(np.zeros(width), np.ones(width), np.zeros(width),
                        10.0 if probability_above else -10.0, 0.5)


def test_the_reflection_is_read_in_the_third_person():
    text = in_third_person(REFLECTION, NAMES, "mentee")
    assert text.startswith("Farah showed Jonathan the expense app. Jonathan'll switch Jonathan")
    assert "Farah will send Jonathan" in text
    assert in_third_person(REFLECTION, None, "mentee") == REFLECTION  # no names: as written


def test_minutes_that_name_people_by_surname_or_initials_are_read_by_first_name():
    names = {"Lerato Mokoena": "mentor", "Lerato": "mentor", "Charles Beaumont": "mentee",
             "Charles": "mentee"}
    notes = ("Attendees: L. Mokoena, C. Beaumont. Ms Mokoena noted the wording. Actions: CB to "
             "request data from HR. LM to circulate examples. C to book a room. A plan; IT helps.")
    assert in_third_person(notes, names, None) == (
        "Attendees: Lerato, Charles. Lerato noted the wording. Actions: Charles to request data "
        "from HR. Lerato to circulate examples. Charles to book a room. A plan; IT helps.")


def test_a_whole_sentence_of_the_reflection_is_supported_whatever_the_model():
    check = SupportCheck(bag_of_words, always(False))
    assert check.accepts("farah showed me the expense app", [REFLECTION])  # as joined or not
    # a fragment is not the reflection's sentence: it could drop a "not"
    assert not check.accepts("send me the finance team's guide", [REFLECTION])
    assert not SupportCheck(bag_of_words, always(False)).accepts(
        "Send the deck.", ["I will not send the deck. We met."])


def test_a_number_or_day_the_reflection_never_states_is_refused_whatever_the_model():
    check = SupportCheck(bag_of_words, always(True))
    assert not check.accepts("Jonathan will switch to co-authoring by Wednesday.", [REFLECTION],
                             names=NAMES, author_role="mentee")
    assert check.accepts("Jonathan will switch to co-authoring by Friday.", [REFLECTION],
                         names=NAMES, author_role="mentee")


def test_without_an_embedder_the_word_check_decides():
    check = SupportCheck(None)
    assert check.model is None
    assert check.accepts("Farah will send the finance team's guide.", [REFLECTION])
    assert not check.accepts("Farah will not send the finance team's guide.", [REFLECTION])


def test_features_see_who_does_what():
    check = SupportCheck(bag_of_words, always(True))
    same = check.features("Farah will send Jonathan the finance team's guide.", [REFLECTION],
                          names=NAMES, author_role="mentee")
    swapped = check.features("Jonathan will send Farah the finance team's guide.", [REFLECTION],
                             names=NAMES, author_role="mentee")
    person = FEATURES.index("same_person")
    assert same.shape == (len(FEATURES),) and same[person] == 1.0 and swapped[person] == 0.0


def test_a_model_round_trips_and_refuses_other_features(tmp_path):
    model = SupportModel(np.arange(len(FEATURES), dtype=float), np.ones(len(FEATURES)),
                         np.full(len(FEATURES), 0.5), -1.0, 0.6)
    path = tmp_path / "support.json"
    model.save(path, {"fitted_on": "a test"})
    again = SupportModel.load(path)
    assert again.threshold == 0.6 and np.allclose(again.coef, model.coef)
    path.write_text(path.read_text().replace('"words"', '"letters"'))
    with pytest.raises(ValueError, match="python -m evals.calibrate support"):
        SupportModel.load(path)


def test_the_packaged_model_reads_todays_features():
    model = SupportModel.load(PACKAGED)
    assert model.coef.shape == (len(FEATURES),) and 0 < model.threshold < 1
