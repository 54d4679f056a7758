"""The core's judge (`tap_hindsight.judge`) and the rule for vanished records
(`tap_hindsight.absence`), in the test process: no server, no SDK, no clock."""

from __future__ import annotations

import copy

import pytest

from hindsight_simulator.data import make_interview
from tap_hindsight.absence import Absence, judge_absence, two_strikes
from tap_hindsight.answers import FetchResult, Outcome
from tap_hindsight.judge import Asked, Kind, Rules, judge
from tap_hindsight.lifecycle import LifecycleState
from tap_hindsight.records import RecordValidator, parse_datetime
from tap_hindsight.schemas import load_schema

NOW = 1_795_000_000
BOTH = frozenset({"interviews", "interview_turns"})
RULES = Rules(
    "interviews",
    frozenset({"interview_turns"}),
    BOTH,
    RecordValidator(load_schema("interviews")),
    ("Hindsight",),
)


def answer(record, interview_id=None):
    if record is None:
        return FetchResult(interview_id=interview_id, outcome=Outcome.NOT_FOUND)
    return FetchResult(
        interview_id=record["interview_request_id"], outcome=Outcome.OK, record=record
    )


def judged_and_learned(record, known, rules=RULES, asked=Asked.PLAN):
    verdict = judge(answer(record), known, rules, NOW, asked)
    if verdict.learned is not None:
        known.learn(record["interview_request_id"], verdict.learned)
    return verdict


def test_a_first_completion_is_emitted_with_its_turns_and_remembered_as_completed():
    known = LifecycleState()
    record = make_interview(1, 7, "completed")
    verdict = judged_and_learned(record, known)
    assert verdict.kind is Kind.COMPLETED
    assert verdict.row
    assert verdict.record == record
    assert verdict.turns
    assert [row["turn_index"] for row in verdict.turns] == list(range(len(verdict.turns)))
    assert 7 in known.completed
    assert known.digests[7].turns == len(verdict.turns)
    # Asked again (a stream's history it already has): nothing goes out.
    again = judge(answer(record), known, RULES, NOW)
    assert again.kind is Kind.REREAD
    assert not again.row
    assert again.turns is None
    assert not again.changed


def test_a_re_read_sends_an_edited_record_again_and_its_turns_only_if_replaced():
    known = LifecycleState()
    record = make_interview(1, 8, "completed")
    first = judged_and_learned(record, known)
    edited = copy.deepcopy(record)
    edited["objective"] = "Pricing, again"
    verdict = judged_and_learned(edited, known, asked=Asked.REREAD)
    assert (verdict.kind, verdict.row, verdict.changed, verdict.turns) == (
        Kind.REREAD,
        True,
        True,
        None,
    )
    shorter = copy.deepcopy(edited)
    shorter["transcript"]["content"] = "**Hindsight:** Thanks for your time.\n\n**Buyer:** Sure."
    verdict = judged_and_learned(shorter, known, asked=Asked.REREAD)
    assert verdict.row
    assert len(verdict.turns) == 2
    assert verdict.vanished == range(2, len(first.turns))
    assert known.digests[8].turns == 2


def test_a_pending_record_goes_out_when_it_changed_and_only_then():
    known = LifecycleState()
    record = make_interview(1, 9, "sent")
    verdict = judged_and_learned(record, known)
    assert (verdict.kind, verdict.row, verdict.turns) == (Kind.PENDING, True, None)
    assert known.pending[9].polled_at == NOW
    assert judged_and_learned(record, known).kind is Kind.UNCHANGED
    changed = {**record, "objective": "Renewal"}
    assert judged_and_learned(changed, known).kind is Kind.PENDING


def test_an_unselected_stream_is_remembered_as_unsent():
    known = LifecycleState()
    turns_only = Rules(
        "interviews",
        frozenset({"interview_turns"}),
        frozenset({"interview_turns"}),
        RULES.validator,
    )
    judged_and_learned(make_interview(1, 10, "completed"), known, turns_only)
    assert known.is_unsent("interviews", 10)
    assert not known.is_unsent("interview_turns", 10)


def test_404_is_gone_for_an_interview_seen_before_and_not_found_otherwise():
    known = LifecycleState()
    judged_and_learned(make_interview(1, 11, "sent"), known)
    assert judge(answer(None, 11), known, RULES, NOW).kind is Kind.GONE
    assert judge(answer(None, 12), known, RULES, NOW).kind is Kind.NOT_FOUND
    known.failed.add(12)
    verdict = judge(answer(None, 12), known, RULES, NOW)
    known.learn(12, verdict.learned)
    assert 12 not in known.failed  # no longer retried as failed


def test_a_record_off_the_schema_fails_by_field_and_is_asked_again():
    known = LifecycleState()
    record = make_interview(1, 13, "sent")
    record["created_at"] = 17
    verdict = judged_and_learned(record, known)
    assert verdict.kind is Kind.INVALID
    assert "created_at" in verdict.problem
    assert verdict.record is None
    assert 13 in known.failed
    other = make_interview(1, 14, "sent")
    wrong_id = FetchResult(interview_id=15, outcome=Outcome.OK, record=other)
    verdict = judge(wrong_id, known, RULES, NOW)
    assert verdict.kind is Kind.INVALID
    assert "interview_request_id" in verdict.problem


def test_before_start_date_is_kept_out_and_an_undocumented_status_is_named():
    record = make_interview(1, 16, "sent")
    later = Rules(**{**RULES.__dict__, "start_date": parse_datetime(record["created_at"])})
    record["created_at"] = "2000-01-01T00:00:00Z"
    known = LifecycleState()
    assert judged_and_learned(record, known, later).kind is Kind.BEFORE_START
    assert 16 in known.out_of_range
    odd = {**make_interview(1, 17, "sent"), "status": "scheduled"}
    verdict = judge(answer(odd), known, RULES, NOW)
    assert (verdict.kind, verdict.unknown_status) == (Kind.PENDING, "scheduled")


@pytest.mark.parametrize(
    ("gone", "looked_for", "expected"),
    [
        (5, 5, Absence.WRONG_KEY),  # every one: another organisation's key
        (120, 140, Absence.WRONG_KEY),
        (3, 3, Absence.NONE_LEFT),  # all, but too few to say
        (2, 10, Absence.SETTLE),  # a few deletions
        (20, 140, Absence.SETTLE),  # the right key after a wrong one: theirs vanish
        (5, 10, Absence.SETTLE),  # as many still there as vanished
        (6, 10, Absence.WRONG_KEY),
        (0, 10, Absence.SETTLE),
    ],
)
def test_one_rule_for_vanished_interviews_and_deals(gone, looked_for, expected):
    assert judge_absence(gone, looked_for) is expected


def test_two_strikes_delete_and_one_is_a_glitch():
    strikes = two_strikes([3, 1, 2], {2, 9})
    assert (strikes.first, strikes.second) == ([3, 1], [2])
