"""Deterministic, realistic interview data for the Hindsight API simulator.

The same (seed, ID, status) always gives the same interview, so tests compare what the
tap emitted with what the simulator serves instead of with hard-coded values.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone
from typing import Any

STATUSES = ("created", "sent", "completed")
INTERVIEWER = "Paige"
#: Every NUL_EVERY-th ID carries U+0000 in its texts (the real API has served them).
NUL_EVERY = 50

_EPOCH = datetime(2026, 1, 5, 9, 0, tzinfo=timezone.utc)

_CONTACTS = (
    "Jane Doe",
    "José Álvarez",
    "Zoë Brontë",
    "佐藤 花子",
    "محمد الأحمد",
    "Ólafur Arnalds",
    "Priya Raman",
    "Ngozi Okafor",
    "Дмитрий Соколов",
    "Mary-Kate O'Brien",
)
_COMPETITORS = ("Competitor X", "Acme Analytics", "Globex", "Initech")
_OBJECTIVES = (
    "Understand why we lost to {competitor}",
    "Learn what made {competitor} the safer choice",
    "Find out how pricing compared with {competitor}",
    "Hear why the buyer chose us over {competitor}",
)
_QUESTIONS = (
    "Thanks for making the time. What problem were you trying to solve?",
    "Which vendors did you evaluate, and how did you shortlist them?",
    "How did our pricing compare with {competitor}?",
    "What almost made you choose differently?",
    "Is there anything we should have done better?",
)
_ANSWERS = (
    "We needed one place for win-loss notes. Our CRM fields were mostly empty.",
    "We looked at three tools. {competitor} came in through a referral.",
    "Honestly the pricing was the main thing: {competitor} was about 20% cheaper per seat.",
    "Your onboarding was **much** better, but *security review* took six weeks.",
    (
        "The demo was great 👍 but the contract terms were rigid.\n\n"
        "We also had to justify the spend to finance, which took another month."
    ),
    "لقد كان السعر مرتفعًا قليلًا مقارنة بـ {competitor}.",
    "価格は少し高かったですが、サポートは素晴らしかったです。",
    "Support answered within minutes — that mattered more than price. 🚀",
)


def _instant(value: datetime) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")


def _sometimes(rng: random.Random, share: float, value: str) -> str | None:
    """`value` in `share` of cases, else null (the API's optional fields)."""
    return value if rng.random() < share else None


def transcript_markdown(rng: random.Random, contact: str, competitor: str, size: int) -> str:
    """A `**Name:** message` transcript of at least `size` characters (min. 6 turns)."""
    turns: list[str] = []
    length = 0
    index = 0
    while index < 6 or length < size:  # noqa: PLR2004
        question = rng.choice(_QUESTIONS).format(competitor=competitor)
        answer = rng.choice(_ANSWERS).format(competitor=competitor)
        for speaker, text in ((INTERVIEWER, question), (contact, answer)):
            turn = f"**{speaker}:** {text}"
            turns.append(turn)
            length += len(turn) + 2
        index += 2
    return "\n\n".join(turns)


def make_interview(
    seed: int,
    interview_id: int,
    status: str,
    transcript_chars: int = 2_000,
) -> dict[str, Any]:
    """The interview `interview_id` as the API would serve it in `status`."""
    rng = random.Random(f"{seed}:{interview_id}")  # noqa: S311 (test data)
    contact = rng.choice(_CONTACTS)
    competitor = rng.choice(_COMPETITORS)
    created = _EPOCH + timedelta(minutes=37 * interview_id + rng.randint(0, 30))
    sent = created + timedelta(minutes=rng.randint(5, 90))
    completed = sent + timedelta(hours=rng.randint(2, 96), minutes=rng.randint(0, 59))
    objective = rng.choice(_OBJECTIVES).format(competitor=competitor)
    record: dict[str, Any] = {
        "interview_request_id": interview_id,
        "contact_id": _sometimes(rng, 0.95, f"contact_{rng.getrandbits(40):010x}"),
        "deal_id": _sometimes(rng, 0.8, f"deal_{rng.getrandbits(40):010x}"),
        "survey_url": f"https://app.usehindsight.com/survey?token=tok_{rng.getrandbits(64):016x}",
        "status": status,
        "objective": _sometimes(rng, 0.7, objective),
        "email_sent_at": None if status == "created" else _instant(sent),
        "created_at": _instant(created),
        "transcript": None,
    }
    if status == "completed":
        content = transcript_markdown(rng, contact, competitor, transcript_chars)
        record["transcript"] = {
            "document_id": f"doc_{rng.getrandbits(48):012x}",
            "content": content,
            "created_at": _instant(completed),
        }
    if interview_id % NUL_EVERY == 0:
        record["objective"] = "Pricing\x00 objections"
        if record["transcript"] is not None:
            record["transcript"]["content"] += "\n\n**Paige:** Thanks\x00!"
    return record


def initial_status(seed: int, interview_id: int) -> str:
    """Where an interview starts: half completed, a quarter each created and sent."""
    roll = random.Random(f"{seed}:status:{interview_id}").random()  # noqa: S311
    if roll < 0.5:  # noqa: PLR2004
        return "completed"
    return "sent" if roll < 0.75 else "created"  # noqa: PLR2004


def next_status(status: str) -> str:
    """One step along created -> sent -> completed (completed stays completed)."""
    if status in STATUSES[:-1]:
        return STATUSES[STATUSES.index(status) + 1]
    return status
