from ttscale.search.voting import majority_vote
from ttscale.types import Candidate


def by_string(answers):
    seen: dict[str, int] = {}
    return [seen.setdefault(a, len(seen)) for a in answers]


def cands(*answers):
    return [Candidate(f"... {a}", a, "stop") for a in answers]


def test_most_frequent_answer_wins():
    assert majority_vote(cands("3", "5", "5"), by_string) == "5"


def test_tie_goes_to_the_answer_seen_first():
    assert majority_vote(cands("7", "3", "3", "7"), by_string) == "7"


def test_candidates_without_answer_do_not_vote():
    assert majority_vote(cands(None, None, "4"), by_string) == "4"


def test_no_answer_at_all_gives_none():
    assert majority_vote(cands(None, None), by_string) is None


def test_equivalent_answers_pool_their_votes():
    value = {"0.5": 0.5, "1/2": 0.5, "\\frac{1}{2}": 0.5, "3": 3.0}

    def by_value(answers):
        reps = list(dict.fromkeys(value[a] for a in answers))
        return [reps.index(value[a]) for a in answers]

    assert majority_vote(cands("0.5", "3", "1/2", "\\frac{1}{2}", "3"), by_value) == "0.5"
