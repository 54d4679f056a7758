"""End to end: the real `meltano run tap-hindsight target-postgres` into a real PostgreSQL.

The loading role's time zone is not UTC; the data comes from the simulator; the second run
(statuses advanced in between) reads the state Meltano kept. README's SQL runs here too.
"""

from __future__ import annotations

import subprocess
import sys
from collections import Counter
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tap_hindsight.deals import competitor_rows, driver_rows
from tap_hindsight.records import storable
from tap_hindsight.settings import parse_datetime
from tap_hindsight.simulator import Organisation
from tap_hindsight.simulator.demo import readme_queries
from tap_hindsight.transcript import parse_turns, word_count
from tests.helpers import ACME_KEY, clean_env
from tests.postgres import create_database, drop_database

pytestmark = pytest.mark.meltano

REPO = Path(__file__).resolve().parent.parent
MELTANO = str(Path(sys.executable).with_name("meltano"))
IDS = list(range(1001, 1061))
FOREIGN = 500_001
COLUMNS = (
    "interview_request_id",
    "contact_id",
    "deal_id",
    "survey_url",
    "status",
    "objective",
    "email_sent_at",
    "created_at",
    "transcript__document_id",
    "transcript__content",
    "transcript__created_at",
)


def utc(value: str | None) -> datetime | None:
    """An API instant as PostgreSQL's `timestamp without time zone` should hold it."""
    return None if value is None else parse_datetime(value).replace(tzinfo=None)


def expected_row(api: dict[str, Any]) -> tuple[Any, ...]:
    interview = storable(api)
    transcript = interview["transcript"] or {}
    return (
        interview["interview_request_id"],
        interview["contact_id"],
        interview["deal_id"],
        interview["survey_url"],
        interview["status"],
        interview["objective"],
        utc(interview["email_sent_at"]),
        utc(interview["created_at"]),
        transcript.get("document_id"),
        transcript.get("content"),
        utc(transcript.get("created_at")),
    )


@pytest.fixture
def database():
    db = create_database(time_zone="America/New_York")
    yield db
    drop_database(db)


def meltano(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [MELTANO, *args], cwd=REPO, env=env, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done


def warehouse_env(simulator, database, tmp_path, **extra: str) -> dict[str, str]:
    return clean_env(
        MELTANO_SYS_DIR_ROOT=str(tmp_path / ".meltano"),
        MELTANO_SEND_ANONYMOUS_USAGE_STATS="false",
        TAP_HINDSIGHT_API_KEY=ACME_KEY,
        TAP_HINDSIGHT_BASE_URL=simulator.url,
        TAP_HINDSIGHT_INTERVIEW_IDS=",".join(map(str, [*IDS, FOREIGN])),
        TAP_HINDSIGHT_PLAN="enterprise",
        # The second run follows the first at once: poll every pending interview.
        TAP_HINDSIGHT_POLL_AGE_RATIO="0",
        TAP_HINDSIGHT_MIN_POLL_INTERVAL_MINUTES="0",
        TARGET_POSTGRES_HOST=database.host,
        TARGET_POSTGRES_PORT=str(database.port),
        TARGET_POSTGRES_USER=database.user,
        TARGET_POSTGRES_PASSWORD=database.password,
        TARGET_POSTGRES_DATABASE=database.name,
        **extra,
    )


def test_meltano_run_into_postgres_twice(start_simulator, database, tmp_path):
    simulator = start_simulator(organisations=(Organisation("acme", ACME_KEY, 1001, 60),))
    env = warehouse_env(simulator, database, tmp_path)
    meltano(env, "install")
    with database.connect() as connection:
        (role_config,) = connection.execute(
            "SELECT rolconfig FROM pg_roles WHERE rolname = %s", (database.user,)
        ).fetchone()
    assert role_config == ["TimeZone=America/New_York"]  # a role that would shift instants

    first = meltano(env, "run", "tap-hindsight", "target-postgres")
    assert database.password not in first.stdout + first.stderr
    check_table(database, simulator)

    pending = [i for i in IDS if simulator.status_of(i) != "completed"]
    advanced = pending[:8]
    simulator.advance(advanced)
    # A deal loses a driver and moves on: its row is updated, the driver marked removed.
    deal = next(d for d in simulator.deals("acme") if len(d["drivers"]) >= 2)
    simulator.change_deal(deal["id"], status_id="Closed Lost", drivers=deal["drivers"][:-1])
    simulator.reset_stats()
    meltano(env, "run", "tap-hindsight", "target-postgres")
    with database.connect() as connection:
        removed = connection.execute(
            "SELECT deal_id, driver_index, positive FROM hindsight.deal_drivers WHERE removed"
        ).fetchall()
    assert removed == [(deal["id"], len(deal["drivers"]) - 1, None)]
    # Meltano kept the state: only pending interviews were fetched again, and the deals
    # list read whole (one page: fewer than 100 deals).
    stats = simulator.stats()
    assert stats["interview_requests"] == len(pending) + 1  # + the 404
    assert stats["deal_requests"] == 1
    assert simulator.requests_for(FOREIGN) == 1
    check_table(database, simulator)
    check_deals(database, simulator)
    check_readme_queries(database, simulator)


def test_emit_activate_version_messages_loses_no_row(start_simulator, database, tmp_path):
    # The target honours ACTIVATE_VERSION by marking every row of an older version
    # deleted. With the SDK's setting on, no run may send one: each run sends only new and
    # changed rows, so the rows of earlier runs would be retired.
    simulator = start_simulator(organisations=(Organisation("acme", ACME_KEY, 1001, 60),))
    env = warehouse_env(
        simulator, database, tmp_path, TAP_HINDSIGHT_EMIT_ACTIVATE_VERSION_MESSAGES="true"
    )
    meltano(env, "install")
    first = meltano(env, "run", "tap-hindsight", "target-postgres")
    assert "emit_activate_version_messages is ignored" in first.stdout + first.stderr
    pending = [i for i in IDS if simulator.status_of(i) != "completed"]
    simulator.advance(pending[:8])
    meltano(env, "run", "tap-hindsight", "target-postgres")
    check_table(database, simulator)  # every interview and every turn, once
    with database.connect() as connection:
        for table in ("interviews", "interview_turns"):
            (retired,) = connection.execute(
                f"SELECT count(*) FROM hindsight.{table} WHERE _sdc_deleted_at IS NOT NULL"  # noqa: S608
            ).fetchone()
            assert retired == 0, f"{retired} rows of {table} marked deleted"


def check_table(database, simulator) -> None:
    with database.connect() as connection:
        rows = connection.execute(
            f"SELECT {', '.join(COLUMNS)} FROM hindsight.interviews ORDER BY 1"  # noqa: S608
        ).fetchall()
        (distinct,) = connection.execute(
            "SELECT count(DISTINCT interview_request_id) FROM hindsight.interviews"
        ).fetchone()
        (null_transcripts,) = connection.execute(
            "SELECT count(*) FROM hindsight.interviews WHERE transcript__content IS NULL"
        ).fetchone()
    assert len(rows) == distinct == len(IDS)  # every row once: re-runs update in place
    assert rows == [expected_row(simulator.interview(i)) for i in IDS]
    waiting = sum(1 for i in IDS if simulator.status_of(i) != "completed")
    assert null_transcripts == waiting  # SQL NULL, which `IS NULL` finds
    with database.connect() as connection:
        turns = connection.execute(
            "SELECT interview_request_id, turn_index, speaker, is_interviewer, text, word_count"
            " FROM hindsight.interview_turns ORDER BY 1, 2"
        ).fetchall()
    expected_turns = []
    for interview_id in IDS:
        transcript = storable(simulator.interview(interview_id))["transcript"]
        for turn in parse_turns(transcript["content"] if transcript else None):
            flag = None if turn.speaker is None else turn.speaker == "Paige"
            expected_turns.append(
                (interview_id, turn.index, turn.speaker, flag, turn.text, word_count(turn.text))
            )
    assert turns == expected_turns  # every turn once, though interviews were polled twice


def check_readme_queries(database, simulator) -> None:
    queries = readme_queries(REPO / "README.md")
    assert set(queries) == {
        "completed-per-week",
        "email-to-completion",
        "pricing-vs-competitor",
        "buyer-turns-on-pricing",
        "words-by-role",
        "still-waiting",
        "lost-deals-pricing-by-competitor",
        "drivers-by-status",
    }
    interviews = [storable(simulator.interview(i)) for i in IDS]
    deals = {deal["id"]: storable(deal) for deal in simulator.deals("acme")}
    completed = [i for i in interviews if i["status"] == "completed"]
    with database.connect() as connection:

        def run(name):
            return connection.execute(queries[name]).fetchall()

        weeks = Counter()
        for interview in completed:
            done = utc(interview["transcript"]["created_at"])
            week = (done - timedelta(days=done.weekday())).replace(hour=0, minute=0, second=0)
            weeks[week] += 1
        assert run("completed-per-week") == sorted(weeks.items())

        hours = [
            (utc(i["transcript"]["created_at"]) - utc(i["email_sent_at"])).total_seconds() / 3600
            for i in completed
        ]
        ((count, average, longest),) = run("email-to-completion")
        assert count == len(completed)
        assert abs(average - Decimal(str(sum(hours) / len(hours)))) <= Decimal("0.05")
        assert abs(longest - Decimal(str(max(hours)))) <= Decimal("0.05")

        mentions = [
            (i["interview_request_id"], i["deal_id"], i["objective"])
            for i in completed
            if "pricing" in i["transcript"]["content"].lower()
            and "competitor x" in i["transcript"]["content"].lower()
        ]
        assert mentions
        assert run("pricing-vs-competitor") == mentions

        turns = [
            (i["interview_request_id"], turn)
            for i in completed
            for turn in parse_turns(i["transcript"]["content"])
        ]
        assert run("buyer-turns-on-pricing") == [
            (interview_id, turn.index, turn.speaker, turn.text)
            for interview_id, turn in turns
            if turn.speaker not in (None, "Paige")
            and ("pricing" in turn.text.lower() or "competitor x" in turn.text.lower())
        ]
        roles = Counter()
        role_words = Counter()
        for _, turn in turns:
            if turn.speaker is not None:
                role = "interviewer" if turn.speaker == "Paige" else "contact"
                roles[role] += 1
                role_words[role] += word_count(turn.text)
        assert run("words-by-role") == [(r, roles[r], role_words[r]) for r in sorted(roles)]

        waiting = sorted(
            (i for i in interviews if i["status"] != "completed"),
            key=lambda i: (
                i["email_sent_at"] is None,
                i["email_sent_at"] or "",
                i["interview_request_id"],
            ),
        )
        assert run("still-waiting") == [
            (i["interview_request_id"], i["status"], utc(i["email_sent_at"])) for i in waiting
        ]

        lost_on_pricing = sorted(
            [
                (
                    primary_competitor(deals[i["deal_id"]]),
                    deals[i["deal_id"]]["status_id"],
                    i["deal_id"],
                    i["interview_request_id"],
                )
                for i in completed
                if i["deal_id"] in deals
                and "lost" in deals[i["deal_id"]]["status_id"].lower()
                and "pricing" in i["transcript"]["content"].lower()
            ],
            key=lambda row: (row[0], row[3]),  # by competitor, then interview
        )
        assert lost_on_pricing
        assert run("lost-deals-pricing-by-competitor") == lost_on_pricing

        drivers = {}
        for deal in deals.values():
            counts = drivers.setdefault(deal["status_id"], Counter())
            for row in driver_rows(deal):
                counts[row["positive"]] += 1
        assert run("drivers-by-status") == [
            (status, counts[True], counts[False])
            for status, counts in sorted(drivers.items())
            if counts
        ]


def primary_competitor(deal: dict[str, Any]) -> str:
    (primary,) = [row["competitor_id"] for row in competitor_rows(deal) if row["is_primary"]]
    return primary


def check_deals(database, simulator) -> None:
    """Every deal, driver and competitor once, equal to the API's (NUL removed)."""
    deals = sorted((storable(deal) for deal in simulator.deals("acme")), key=lambda d: d["id"])
    with database.connect() as connection:
        rows = connection.execute(
            "SELECT id, name, amount, status_id, previous_status_id, proposal_due::text,"
            " created_at, owner_id, deal_analyzed, wl_product_fit_score FROM hindsight.deals"
            " ORDER BY id"
        ).fetchall()
        drivers = connection.execute(
            "SELECT deal_id, driver_index, reason_id, positive, summary, removed"
            " FROM hindsight.deal_drivers WHERE NOT removed ORDER BY 1, 2"
        ).fetchall()
        competitors = connection.execute(
            "SELECT deal_id, competitor_id, is_primary, is_incumbent, removed"
            " FROM hindsight.deal_competitors ORDER BY 1, 2"
        ).fetchall()
    assert rows == [
        (
            d["id"],
            d["name"],
            Decimal(str(d["amount"])),
            d["status_id"],
            d["previous_status_id"],
            d["proposal_due"],
            utc(d["created_at"]),
            d["owner_id"],
            d["deal_analyzed"],
            None if d["wl_product_fit_score"] is None else Decimal(str(d["wl_product_fit_score"])),
        )
        for d in deals
    ]
    assert drivers == sorted(tuple(row.values()) for d in deals for row in driver_rows(d))
    assert competitors == sorted(tuple(row.values()) for d in deals for row in competitor_rows(d))
    with database.connect() as connection:
        (joined,) = connection.execute(
            "SELECT count(*) FROM hindsight.interviews AS i"
            " JOIN hindsight.deals AS d ON d.id = i.deal_id"
        ).fetchone()
    with_deal = [i for i in IDS if simulator.interview(i)["deal_id"] is not None]
    assert joined == len(with_deal) > 0  # every interview's deal_id finds its deal
