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
    # Inflected forms and a word to exclude, for full-text search (transform/).
    "{competitor} priced every seat separately, and the total came out higher than ours.",
    "They offered a discount for a three-year contract, but their list prices stayed higher.",
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


#: Completed interviews whose ID is 1 modulo LONG_EVERY end with the buyer talking at
#: length: a turn over 300 words, the passages model's limit (one in three of them, ID 9
#: modulo 12, with a run-on sentence over the limit), so that the models and their tests
#: always meet turns cut at sentence ends.
LONG_EVERY = 4
_RAMBLE = (
    "We spent most of the quarter comparing {competitor} with you",
    "the finance team wanted a three-year price lock",
    "our admins worried about the migration of old notes",
    "the security questionnaire came back with forty open items",
    "nobody on the sales floor wanted another tab to keep open",
    "the reporting looked better in your demo than in theirs",
    "procurement asked for references in our industry",
)


def _monologue(seed: int, interview_id: int, contact: str, competitor: str) -> str:
    """The last, long buyer turn of an interview whose ID is 1 modulo LONG_EVERY."""
    if interview_id % LONG_EVERY != 1:
        return ""
    rng = random.Random(f"{seed}:long:{interview_id}")  # noqa: S311 (test data)
    clauses = [
        rng.choice(_RAMBLE).format(competitor=competitor) for _ in range(rng.randint(40, 80))
    ]
    if interview_id % (3 * LONG_EVERY) == 9:  # noqa: PLR2004
        text = "Well, " + ", and ".join(clauses) + "."
    else:
        sentences = [
            clause[0].upper() + clause[1:] + rng.choice((".", ".", "!", "?")) for clause in clauses
        ]
        text = " ".join(sentences[:12]) + "\n\n" + " ".join(sentences[12:])
    return f"\n\n**{INTERVIEWER}:** Anything else we should know?\n\n**{contact}:** {text}"


def _head(rng: random.Random) -> dict[str, Any]:
    """The draws every interview starts with, in the order `make_interview` makes them."""
    contact = rng.choice(_CONTACTS)
    competitor = rng.choice(_COMPETITORS)
    created_offset = timedelta(minutes=rng.randint(0, 30))
    sent_minutes = rng.randint(5, 90)
    completed_hours, completed_minutes = rng.randint(2, 96), rng.randint(0, 59)
    objective = rng.choice(_OBJECTIVES).format(competitor=competitor)
    contact_id = _sometimes(rng, 0.95, f"contact_{rng.getrandbits(40):010x}")
    deal_id = _sometimes(rng, 0.8, f"deal_{rng.getrandbits(40):010x}")
    return {
        "contact": contact,
        "competitor": competitor,
        "created_offset": created_offset,
        "sent_minutes": sent_minutes,
        "completed": (completed_hours, completed_minutes),
        "objective": objective,
        "contact_id": contact_id,
        "deal_id": deal_id,
    }


def interview_deal(seed: int, interview_id: int) -> tuple[str | None, str]:
    """The interview's `deal_id` (or None) and the competitor its buyer talks about."""
    head = _head(random.Random(f"{seed}:{interview_id}"))  # noqa: S311 (test data)
    return head["deal_id"], head["competitor"]


def make_interview(
    seed: int,
    interview_id: int,
    status: str,
    transcript_chars: int = 2_000,
) -> dict[str, Any]:
    """The interview `interview_id` as the API would serve it in `status`."""
    rng = random.Random(f"{seed}:{interview_id}")  # noqa: S311 (test data)
    head = _head(rng)
    contact, competitor = head["contact"], head["competitor"]
    created = _EPOCH + timedelta(minutes=37 * interview_id) + head["created_offset"]
    sent = created + timedelta(minutes=head["sent_minutes"])
    hours, minutes = head["completed"]
    completed = sent + timedelta(hours=hours, minutes=minutes)
    record: dict[str, Any] = {
        "interview_request_id": interview_id,
        "contact_id": head["contact_id"],
        "deal_id": head["deal_id"],
        "survey_url": f"https://app.usehindsight.com/survey?token=tok_{rng.getrandbits(64):016x}",
        "status": status,
        "objective": _sometimes(rng, 0.7, head["objective"]),
        "email_sent_at": None if status == "created" else _instant(sent),
        "created_at": _instant(created),
        "transcript": None,
    }
    if status == "completed":
        content = transcript_markdown(rng, contact, competitor, transcript_chars)
        content += _monologue(seed, interview_id, contact, competitor)
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


#: Deal statuses as the CRM names them: the reference has shown each of these spellings.
DEAL_STATUSES = ("Won", "Lost", "Closed Won", "Closed Lost", "negotiation")
_DEAL_STATUS_WEIGHTS = (3, 3, 1, 2, 1)
_REASONS = (
    ("pricing", "Pricing was {sign} against {competitor}'s offer."),
    ("product_fit", "The product {verb} the workflow the team needed."),
    ("onboarding", "Onboarding {verb} the buyer's expectations."),
    ("security_review", "The security review {verb} the timeline."),
    ("support", "Support responsiveness {verb} the decision."),
)
#: The names and categories the Hindsight dashboard shows for the reasons above (the API
#: serves only their IDs): what a user writes into the hindsight_driver_reasons seed.
REASON_NAMES = {
    "rsn_pricing": ("Pricing", "Commercial"),
    "rsn_product_fit": ("Product fit", "Product"),
    "rsn_onboarding": ("Onboarding", "Product"),
    "rsn_security_review": ("Security review", "Process"),
    "rsn_support": ("Support", ""),
}
_TYPES = ("new_business", "expansion", "renewal")
_REGIONS = ("NA", "EMEA", "APAC", "LATAM")


def competitor_id(name: str) -> str:
    """`Competitor X` -> `cmp_competitor_x`: the ID deals carry for a competitor."""
    return "cmp_" + "_".join(name.lower().split())


def competitor_names() -> dict[str, str]:
    """The name the dashboard shows for each competitor ID deals carry."""
    return {competitor_id(name): name for name in _COMPETITORS}


def make_deal(seed: int, deal_id: str, competitor: str | None) -> dict[str, Any]:
    """The deal `deal_id` as GET /deals serves it; `competitor` is its primary one."""
    rng = random.Random(f"{seed}:deal:{deal_id}")  # noqa: S311 (test data)
    status = rng.choices(DEAL_STATUSES, weights=_DEAL_STATUS_WEIGHTS)[0]
    competitor = competitor or rng.choice(_COMPETITORS)
    others = [c for c in _COMPETITORS if c != competitor]
    associations = [
        {"competitor_id": competitor_id(competitor), "is_primary": True, "is_incumbent": False}
    ] + [
        {
            "competitor_id": competitor_id(name),
            "is_primary": False,
            "is_incumbent": rng.random() < 0.2,  # noqa: PLR2004
        }
        for name in rng.sample(others, rng.randint(0, 2))
    ]
    won = "Won" in status
    drivers = []
    for reason, text in rng.sample(_REASONS, rng.randint(1, 4)):
        positive = rng.random() < (0.7 if won else 0.3)
        summary = text.format(
            sign="favourable" if positive else "unfavourable",
            verb="matched" if positive else "missed",
            competitor=competitor,
        )
        drivers.append({"reason_id": f"rsn_{reason}", "positive": positive, "summary": summary})
    created = _EPOCH + timedelta(days=rng.randint(0, 300), minutes=rng.randint(0, 1439))
    analyzed = rng.random() < 0.8  # noqa: PLR2004
    deal: dict[str, Any] = {
        "id": deal_id,
        "name": f"{rng.choice(_CONTACTS).split()[-1]} {rng.choice(_TYPES).replace('_', ' ')}",
        "amount": round(rng.uniform(5_000, 250_000), 2),
        "status_id": status,
        "previous_status_id": _sometimes(rng, 0.6, "negotiation"),
        "proposal_due": _sometimes(rng, 0.7, (created + timedelta(days=30)).strftime("%Y-%m-%d")),
        "created_at": _instant(created),
        "owner_id": _sometimes(rng, 0.95, f"usr_{rng.getrandbits(24):06x}"),
        "salesforce_id": _sometimes(rng, 0.5, f"006{rng.getrandbits(48):012X}"),
        "hubspot_id": _sometimes(rng, 0.3, str(rng.getrandbits(32))),
        "deal_analyzed": analyzed,
        "analysis_verified": analyzed and rng.random() < 0.5,  # noqa: PLR2004
        "type": _sometimes(rng, 0.9, rng.choice(_TYPES)),
        "region": _sometimes(rng, 0.9, rng.choice(_REGIONS)),
        "deal_competitor_associations": associations,
        "drivers": drivers if analyzed else [],
        "wl_product_fit_score": round(rng.uniform(1, 10), 1) if analyzed else None,
        "wl_sales_execution_score": round(rng.uniform(1, 10), 1) if analyzed else None,
        "wl_relationship_score": round(rng.uniform(1, 10), 1) if analyzed else None,
    }
    if int(deal_id.rsplit("_", 1)[-1], 16) % NUL_EVERY == 0 and deal["drivers"]:
        deal["drivers"][0]["summary"] += " (notes\x00 attached)"
    return deal
