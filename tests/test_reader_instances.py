"""Whole reflections teach the ending and disengaged classifiers as multiple instances
(coach/reader/training.py): fast checks on small synthetic features."""

import numpy as np

from coach.reader.training import Sentences, instances, writer_held_out_tops


class Likeliest:
    """A stand-in model: the first feature is the probability."""

    def predict_proba(self, rows):
        return np.column_stack([1 - rows[:, 0], rows[:, 0]])


def reflection(rid, ending, rows):
    rows = np.asarray(rows, dtype=float)
    return {"id": rid, "gold": {"ending": ending}}, [f"unit {i}" for i in range(len(rows))], rows


def test_a_reflection_without_an_ending_teaches_every_unit_and_one_with_its_likeliest():
    units = [reflection("ar01", False, [[0.9, 1], [0.2, 2]]),
             reflection("ar02", True, [[0.1, 3], [0.7, 4], [0.3, 5]]),
             ({"id": "ar03", "gold": {"sentiment": "positive"}}, ["a", "b"], np.ones((2, 2))),
             reflection("ar04", True, np.zeros((0, 2)))]
    x, y = instances("ending", Likeliest(), units)
    assert x.tolist() == [[0.9, 1], [0.2, 2], [0.7, 4]]
    assert y.tolist() == [0, 0, 1]


def test_each_writers_reflections_are_scored_by_a_model_that_never_saw_them():
    rng = np.random.default_rng(0)
    known = Sentences(rng.normal(size=(60, 3)), np.tile([0, 1], 30), np.ones(60))

    def units(flip_writer_a):
        out = []
        for writer in "abc":
            for k in range(6):
                rows = rng_rows[(writer, k)]
                said = bool(k % 2) != (flip_writer_a and writer == "a")
                out.append(reflection(f"{writer}r{k:02d}", said, rows))
        return out

    rng_rows = {(w, k): rng.normal(size=(3, 3)) for w in "abc" for k in range(6)}
    base = known.fit(1.0)
    tops, truth = writer_held_out_tops("ending", known, base, units(False), 1.0)
    flipped, flipped_truth = writer_held_out_tops("ending", known, base, units(True), 1.0)
    # writer a's gold changed: its own scores did not, the others' did
    assert np.allclose(tops[:6], flipped[:6])
    assert not np.allclose(tops[6:], flipped[6:])
    assert (truth[:6] != flipped_truth[:6]).all() and (truth[6:] == flipped_truth[6:]).all()
