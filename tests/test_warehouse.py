"""End to end: the real `meltano run tap-hindsight target-postgres` into a real PostgreSQL.

The loading role's time zone is not UTC; the data comes from the simulator; the second run
(statuses advanced in between) reads the state Meltano kept. The documented SQL runs here too.
"""

from __future__ import annotations

import json
import re
import time
from collections import Counter
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from hindsight_simulator import Organisation
from hindsight_simulator import passages as model_passages
from hindsight_simulator.data import REASON_NAMES, competitor_names
from hindsight_simulator.demo import QUERIES_DOC, documented_queries
from hindsight_simulator.passages import LIMIT, cut
from tap_hindsight.deals import competitor_rows, driver_rows
from tap_hindsight.encoding import iso_instant
from tap_hindsight.records import parse_datetime, storable
from tap_hindsight.store import STATE_KEY
from tap_hindsight.transcript import parse_turns, word_count
from tests.helpers import ACME_KEY, run_meltano
from tests.meltano_plugins import meltano_env
from tests.names import Names, transform_copy

#: The simulators of these tests serve deals (tests/conftest.py).
SERVE_DEALS = True

if TYPE_CHECKING:
    import subprocess

REPO = Path(__file__).resolve().parent.parent
IDS = list(range(1001, 1061))
REDACTED = "**Paige:** What decided it?\n\n**Buyer:** [redacted]"
#: The conventional pipeline: extract, load, build the dbt models, test them.
PIPELINE = ("tap-hindsight", "target-postgres", "dbt-postgres:run", "dbt-postgres:test")
TRANSFORM = REPO / "transform"
SCHEMA = yaml.safe_load((TRANSFORM / "models" / "schema.yml").read_text())
SEEDS = yaml.safe_load((TRANSFORM / "seeds" / "schema.yml").read_text())
#: The data tests of the models and seeds (keys, relationships, accepted values).
TESTS = sum(
    len(node.get("data_tests", [])) + sum(len(c.get("data_tests", [])) for c in node["columns"])
    for node in SCHEMA["models"] + SEEDS["seeds"]
)
#: What `dbt-postgres:run` builds: every seed and every model.
BUILT = len(list((TRANSFORM / "models").glob("*.sql"))) + len(
    list((TRANSFORM / "seeds").glob("*.csv"))
)
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


def meltano(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return run_meltano(env, *args)


def dbt_summaries(done: subprocess.CompletedProcess[str]) -> list[tuple[int, int, int]]:
    """(passed, warned, failed) of each dbt command the Meltano run ran, in order."""
    found = re.findall(r"Done\. PASS=(\d+) WARN=(\d+) ERROR=(\d+)", done.stdout + done.stderr)
    return [(int(p), int(w), int(e)) for p, w, e in found]


def warehouse_env(simulator, database, meltano_home, **extra: str) -> dict[str, str]:
    return meltano_env(
        meltano_home,
        TAP_HINDSIGHT_API_KEY=ACME_KEY,
        TAP_HINDSIGHT_BASE_URL=simulator.url,
        TAP_HINDSIGHT_INTERVIEW_IDS=",".join(map(str, [*IDS, FOREIGN])),
        TAP_HINDSIGHT_PLAN="enterprise",
        # The second run follows the first at once: poll every pending interview.
        TAP_HINDSIGHT_POLL_AGE_RATIO="0",
        TAP_HINDSIGHT_MIN_POLL_INTERVAL_MINUTES="0",
        **database.target_env(),
        **extra,
    )


def test_meltano_run_into_postgres_twice(start_simulator, database, meltano_home, tmp_path):
    simulator = start_simulator(organisations=(Organisation("acme", ACME_KEY, 1001, 60),))
    # Issue 25: the user has written the names of all but one competitor and one reason.
    names = Names(
        {c: n for c, n in competitor_names().items() if c != "cmp_initech"},
        {r: n for r, n in REASON_NAMES.items() if r != "rsn_support"},
    )
    project = transform_copy(tmp_path / "transform", names)
    env = warehouse_env(simulator, database, meltano_home, DBT_POSTGRES_PROJECT_DIR=str(project))
    with database.connect() as connection:
        (role_config,) = connection.execute(
            "SELECT rolconfig FROM pg_roles WHERE rolname = %s", (database.user,)
        ).fetchone()
    assert role_config == ["TimeZone=America/New_York"]  # a role that would shift instants

    first = meltano(env, "run", *PIPELINE)
    assert database.password not in first.stdout + first.stderr
    assert dbt_summaries(first) == [(BUILT, 0, 0), (TESTS, 0, 0)]  # models built, tests passed
    check_table(database, simulator)
    check_models(database, simulator, names)

    pending = [i for i in IDS if simulator.status_of(i) != "completed"]
    advanced = pending[:8]
    simulator.advance(advanced)
    # A deal loses a driver and moves on: its row is updated, the driver marked removed.
    deal = next(d for d in simulator.deals("acme") if len(d["drivers"]) >= 2)
    simulator.change_deal(deal["id"], status_id="Closed Lost", drivers=deal["drivers"][:-1])
    # The user names the last competitor: the next run's models carry the name, passages
    # modelled before included (their context changed).
    names.competitors["cmp_initech"] = "Initech"
    names.write(project)
    # The search table as the version before passages built it: the next run adds the
    # column and indexes every passage, with no full refresh.
    with database.connect() as connection:
        connection.execute(
            "DELETE FROM analytics.hindsight_transcript_search WHERE document_kind = 'passage';"
            " ALTER TABLE analytics.hindsight_transcript_search DROP COLUMN passage_id"
        )
    simulator.reset_stats()
    second = meltano(env, "run", *PIPELINE)
    # The incremental models took in only what the second load wrote, and pass their tests.
    assert dbt_summaries(second) == [(BUILT, 0, 0), (TESTS, 0, 0)]
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
    check_models(database, simulator, names)
    check_documented_queries(database, simulator, names)
    check_crm_joins(database, simulator)

    # A full rebuild gives every passage the same ID (an embedding job's key).
    before = passages_in(database)
    meltano(env, "run", "dbt-postgres:full-refresh")
    assert passages_in(database) == before
    check_models(database, simulator, names)


def test_the_models_build_before_turns_or_deals_are_loaded(start_simulator, database, meltano_home):
    # A new pipeline whose interviews are all pending has loaded no turn, so the loader has
    # created no interview_turns table; with the deals streams deselected, no deals table.
    simulator = start_simulator(organisations=(Organisation("acme", ACME_KEY, 1001, 60),))
    env = warehouse_env(
        simulator,
        database,
        meltano_home,
        TAP_HINDSIGHT__SELECT='["interviews.*", "interview_turns.*"]',
    )
    pending = [i for i in IDS if simulator.status_of(i) != "completed"]
    first = meltano(
        dict(env, TAP_HINDSIGHT_INTERVIEW_IDS=",".join(map(str, pending))), "run", *PIPELINE
    )
    assert dbt_summaries(first) == [(BUILT, 0, 0), (TESTS, 0, 0)]
    with database.connect() as connection:
        missing = connection.execute(
            "SELECT to_regclass('hindsight.interview_turns'), to_regclass('hindsight.deals')"
        ).fetchone()
        rows = connection.execute(
            "SELECT interview_request_id, turn_count FROM analytics.hindsight_interviews ORDER BY 1"
        ).fetchall()
        (turns,) = connection.execute(
            "SELECT count(*) FROM analytics.hindsight_buyer_turns"
        ).fetchone()
    assert missing == (None, None)
    assert rows == [(i, 0) for i in pending]
    assert turns == 0

    done = meltano(env, "run", *PIPELINE)  # every ID: completed ones bring their turns
    assert dbt_summaries(done) == [(BUILT, 0, 0), (TESTS, 0, 0)]
    assert simulator.stats()["deal_requests"] == 0
    with database.connect() as connection:
        (deals_table,) = connection.execute("SELECT to_regclass('hindsight.deals')").fetchone()
        rows = connection.execute(
            "SELECT interview_request_id, deal_id, deal_status, deal_outcome, deal_amount,"
            " primary_competitor_id FROM analytics.hindsight_interviews ORDER BY 1"
        ).fetchall()
        turns = connection.execute(
            "SELECT interview_request_id, turn_index, speaker, text, word_count, deal_id"
            " FROM analytics.hindsight_buyer_turns ORDER BY 1, 2"
        ).fetchall()
    assert deals_table is None
    assert [row[0] for row in rows] == IDS
    assert any(row[1] is not None for row in rows)  # interviews have deals, not yet loaded
    assert all(row[2:] == (None, None, None, None) for row in rows)
    # The incremental model first built from the empty stand-in took in the real turns.
    assert turns == modelled(simulator)["buyer_turns"]
    assert turns
    check_model_docs(database)


def test_a_deleted_interview_is_marked_in_postgres_and_keeps_its_other_columns(
    start_simulator, database, meltano_home
):
    # Issue 24: an interview deleted from Hindsight answers 404; after two runs in a row
    # the tap sends it once more with _sdc_deleted_at and its transcript null, under a
    # SCHEMA of those columns only: target-postgres sets them and keeps the rest.
    simulator = start_simulator(organisations=(Organisation("acme", ACME_KEY, 1001, 60),))
    env = warehouse_env(simulator, database, meltano_home)
    assert dbt_summaries(meltano(env, "run", *PIPELINE[:3])) == [(BUILT, 0, 0)]
    pending = [i for i in IDS if simulator.status_of(i) != "completed"]
    gone = pending[:2]
    before = {i: expected_row(simulator.interview(i)) for i in gone}
    simulator.delete_interviews("acme", gone)
    # A deal deleted in the CRM that a remaining interview points to.
    deal_id = next(
        simulator.interview(i)["deal_id"]
        for i in IDS
        if i not in gone and simulator.interview(i)["deal_id"]
    )
    simulator.delete_deals([deal_id])
    # Two runs in a row mark them deleted (the first only missing: the models are built
    # after the second), and the incremental models run their clean-up of deleted rows.
    meltano(env, "run", *PIPELINE[:2])
    assert dbt_summaries(meltano(env, "run", *PIPELINE)) == [(BUILT, 0, 0), (TESTS, 0, 0)]
    with database.connect() as connection:
        rows = connection.execute(
            f"SELECT {', '.join(COLUMNS)}, _sdc_deleted_at FROM hindsight.interviews"  # noqa: S608
            " ORDER BY 1"
        ).fetchall()
    assert len(rows) == len(IDS)
    for row in rows:
        interview_id, deleted_at = row[0], row[-1]
        if interview_id in gone:
            assert deleted_at is not None
            kept, erased = row[: COLUMNS.index("transcript__document_id")], row[-4:-1]
            assert kept == before[interview_id][: len(kept)]  # status, objective... kept
            assert erased == (None, None, None)
        else:
            assert deleted_at is None
            assert row[:-1] == expected_row(simulator.interview(interview_id))
    with database.connect() as connection:
        modelled = connection.execute(
            "SELECT interview_request_id, deal_id, deal_name FROM analytics.hindsight_interviews"
        ).fetchall()
        (deal_deleted,) = connection.execute(
            "SELECT _sdc_deleted_at IS NOT NULL FROM hindsight.deals WHERE id = %s", (deal_id,)
        ).fetchone()
    assert sorted(i for i, _, _ in modelled) == [i for i in IDS if i not in gone]
    assert deal_deleted
    pointing = [name for _, deal, name in modelled if deal == deal_id]
    assert pointing
    assert pointing == [None] * len(pointing)  # the deleted deal's columns are left out


def test_edits_redactions_and_deletions_after_completion_reach_postgres_and_the_models(
    start_simulator, database, meltano_home
):
    # Issue 24: the re-read cycle. A cycle later (the state's recheck_through moved back
    # with `meltano state set`), an edited objective, a replaced transcript and a deleted
    # completed interview reach the tables, and the incremental models follow.
    # The models are built after the first run and the third only: the changes of the two
    # runs between reach them in one incremental build (the tests run once, at the end).
    simulator = start_simulator(organisations=(Organisation("acme", ACME_KEY, 1001, 60),))
    env = warehouse_env(simulator, database, meltano_home)
    assert dbt_summaries(meltano(env, "run", *PIPELINE[:3])) == [(BUILT, 0, 0)]
    completed = [i for i in IDS if simulator.status_of(i) == "completed"]
    gone, replaced, edited = completed[:3]
    turns_of_gone = len(parse_turns(simulator.interview(gone)["transcript"]["content"]))
    simulator.delete_interviews("acme", [gone])
    simulator.replace_transcript(replaced, REDACTED)
    simulator.edit_interview(edited, objective="Edited after completion")
    state_id = "dev:tap-hindsight-to-target-postgres"
    state = json.loads(meltano(env, "state", "get", state_id).stdout)
    lifecycle = state["singer_state"]["bookmarks"]["interviews"][STATE_KEY]
    lifecycle["recheck_through"] = iso_instant(time.time() - 31 * 86_400)
    meltano(env, "state", "set", "--force", state_id, json.dumps(state))
    meltano(env, "run", *PIPELINE[:2])  # a deletion takes two runs in a row (exit 0 checked)
    assert dbt_summaries(meltano(env, "run", *PIPELINE)) == [(BUILT, 0, 0), (TESTS, 0, 0)]
    with database.connect() as connection:
        objective, content = connection.execute(
            "SELECT objective, transcript__content FROM hindsight.interviews"
            " WHERE interview_request_id = %s",
            (edited,),
        ).fetchone()
        turns = connection.execute(
            "SELECT interview_request_id, turn_index, text, _sdc_deleted_at IS NOT NULL"
            " FROM hindsight.interview_turns WHERE interview_request_id IN (%s, %s)"
            " ORDER BY 1, 2",
            (gone, replaced),
        ).fetchall()
        modelled = dict(
            connection.execute(
                "SELECT interview_request_id, objective FROM analytics.hindsight_interviews"
            ).fetchall()
        )
        buyer = connection.execute(
            "SELECT DISTINCT interview_request_id, turn_index, objective"
            " FROM analytics.hindsight_buyer_turns WHERE interview_request_id IN (%s, %s, %s)",
            (gone, replaced, edited),
        ).fetchall()
        found = connection.execute(
            "SELECT interview_request_id, body FROM analytics.hindsight_transcript_search"
            " WHERE search_vector @@ websearch_to_tsquery('english', 'redacted')"
        ).fetchall()
        searched = connection.execute(
            "SELECT passage_id FROM analytics.hindsight_transcript_search"
            " WHERE document_kind = 'passage' ORDER BY 1"
        ).fetchall()
    passages = passages_in(database)
    # Passages follow: the redacted transcript cut anew (new IDs, the old ones gone from
    # search too), the deleted interview's gone, the edited objective on every passage.
    assert [row[:8] for row in passages if row[1] == replaced] == [
        p.row() for p in cut(replaced, parse_turns(REDACTED))
    ]
    assert not [row for row in passages if row[1] == gone]
    assert {row[11] for row in passages if row[1] == edited} == {"Edited after completion"}
    assert searched == sorted((row[0],) for row in passages)
    assert objective == "Edited after completion"
    assert content is not None
    assert [(t[1], t[2] is None, t[3]) for t in turns if t[0] == gone] == [
        (index, True, True) for index in range(turns_of_gone)
    ]
    live = [t for t in turns if t[0] == replaced and not t[3]]
    assert [(t[1], t[2]) for t in live] == [(0, "What decided it?"), (1, "[redacted]")]
    assert all(t[2] is None for t in turns if t[0] == replaced and t[3])
    assert gone not in modelled
    assert modelled[edited] == "Edited after completion"
    assert {(i, n) for i, n, _ in buyer if i == replaced} == {(replaced, 1)}  # the buyer's
    assert {o for i, _, o in buyer if i == edited} == {"Edited after completion"}
    assert not [row for row in buyer if row[0] == gone]
    assert {i for i, _ in found} == {replaced}


def test_emit_activate_version_messages_loses_no_row(start_simulator, database, meltano_home):
    # The target honours ACTIVATE_VERSION by marking every row of an older version
    # deleted. With the SDK's setting on, no run may send one: each run sends only new and
    # changed rows, so the rows of earlier runs would be retired.
    simulator = start_simulator(organisations=(Organisation("acme", ACME_KEY, 1001, 60),))
    env = warehouse_env(
        simulator, database, meltano_home, TAP_HINDSIGHT_EMIT_ACTIVATE_VERSION_MESSAGES="true"
    )
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


PRICE = re.compile(r"\bpric(e|es|ed|ing)\b", re.IGNORECASE)  # what 'pricing' stems to match
DISCOUNT = re.compile(r"\bdiscount(s|ed|ing)?\b", re.IGNORECASE)
HIGHLIGHT = re.compile(r"<b>([^<]*)</b>")


def hours(start: str | None, finish: str | None) -> Decimal | None:
    """Hours between two API instants, rounded half away from zero as the model rounds."""
    if start is None or finish is None:
        return None
    seconds = (utc(finish) - utc(start)).total_seconds()
    return (Decimal(int(seconds)) / 3600).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def outcome(deal: dict[str, Any] | None) -> str | None:
    if deal is None:
        return None
    stage = (deal["status_id"] or "").lower()
    return "lost" if "lost" in stage else "won" if "won" in stage else "open"


def modelled(simulator, names: Names | None = None) -> dict[str, Any]:
    """What the dbt models should hold, computed from the API's data and the seeds."""
    names = names or Names()
    deals = {deal["id"]: storable(deal) for deal in simulator.deals("acme")}
    interviews, buyer_turns, passages = [], [], []
    for interview_id in IDS:
        api = storable(simulator.interview(interview_id))
        transcript = api["transcript"]
        turns = parse_turns(transcript["content"] if transcript else None)
        passages.extend(cut(interview_id, turns))
        buyer = [t for t in turns if t.speaker not in (None, "Paige")]
        deal = deals.get(api["deal_id"])
        primary = None
        if deal is not None:
            primaries = [r["competitor_id"] for r in competitor_rows(deal) if r["is_primary"]]
            primary = min(primaries) if primaries else None
        interviews.append(
            {
                "interview_request_id": interview_id,
                "status": api["status"],
                "completed_at": utc(transcript["created_at"]) if transcript else None,
                "email_sent_at": utc(api["email_sent_at"]),
                "hours_to_email": hours(api["created_at"], api["email_sent_at"]),
                "hours_email_to_completed": hours(
                    api["email_sent_at"], transcript["created_at"] if transcript else None
                ),
                "turn_count": len(turns),
                "buyer_turn_count": len(buyer),
                "buyer_word_count": sum(word_count(t.text) for t in buyer),
                "deal_status": deal["status_id"] if deal else None,
                "deal_outcome": outcome(deal),
                "salesforce_id": deal["salesforce_id"] if deal else None,
                "hubspot_id": deal["hubspot_id"] if deal else None,
                "primary_competitor_id": primary,
                "primary_competitor_name": names.competitor(primary),
                "objective": api["objective"],
                "content": transcript["content"] if transcript else None,
            }
        )
        buyer_turns.extend(
            (interview_id, t.index, t.speaker, t.text, word_count(t.text), api["deal_id"])
            for t in buyer
        )
    drivers = sorted(
        (
            deal["id"],
            outcome(deal),
            row["driver_index"],
            row["reason_id"],
            *names.reason(row["reason_id"]),
            row["positive"],
            row["summary"],
        )
        for deal in deals.values()
        for row in driver_rows(deal)
        if not row["removed"]
    )
    return {
        "interviews": interviews,
        "buyer_turns": buyer_turns,
        "passages": passages,
        "deal_drivers": drivers,
        "deals": deals,
    }


def passages_in(database) -> list[tuple[Any, ...]]:
    """Every row of the passages model, in order."""
    with database.connect() as connection:
        return connection.execute(
            f"SELECT {', '.join(model_passages.COLUMNS)}, deal_outcome, primary_competitor_id,"  # noqa: S608
            " primary_competitor_name, objective"
            " FROM analytics.hindsight_transcript_passages ORDER BY 2, 3"
        ).fetchall()


def check_passages(found: list[tuple[Any, ...]], expected: dict[str, Any]) -> None:
    """The passages are the transcripts' turns, each once and in order, cut as documented."""
    completed = [i for i in expected["interviews"] if i["content"] is not None]
    assert {row[1] for row in found} == {i["interview_request_id"] for i in completed}
    split_turns = 0
    for interview in completed:
        rows = [row for row in found if row[1] == interview["interview_request_id"]]
        turns = parse_turns(interview["content"])
        words = [turn.text.split() for turn in turns]
        assert [row[2] for row in rows] == list(range(len(rows)))  # passage_index from 0
        turn, offset = 0, 0  # the reading position: a turn, and a word within it
        for _, _, _, first, last, passage, count, *_ in rows:
            body = passage
            assert 0 < count <= LIMIT
            assert first == turn  # it goes on where the last passage stopped
            taken = 0
            for index in range(first, last + 1):
                label = f"{turns[index].speaker}: "
                assert body.startswith(label), (index, body[:80])
                body = body.removeprefix(label)
                if index < last:  # a turn before the passage's last ends in it
                    segment, _, body = body.partition(f"\n\n{turns[index + 1].speaker}: ")
                    body = f"{turns[index + 1].speaker}: " + body
                else:
                    segment, body = body, ""
                read = segment.split()
                assert read == words[index][offset : offset + len(read)], index
                assert index == first or offset == 0  # only the first may be a continuation
                offset += len(read)
                taken += len(read)
                if offset == len(words[index]):
                    turn, offset = index + 1, 0
                else:
                    assert index == last  # only the last may stop inside a turn
                    split_turns += 1
                    assert len(words[index]) > LIMIT  # a turn within the limit is never cut
            assert count == taken
        assert (turn, offset) == (len(turns), 0)  # every turn read, to its last word
        for row in rows:
            assert row[8:10] == (interview["deal_outcome"], interview["primary_competitor_id"])
            assert row[10:12] == (interview["primary_competitor_name"], interview["objective"])
    assert split_turns  # the data has turns over the limit, and they were cut
    # And exactly as the independent reading of the rule in Python cuts them.
    assert [row[:8] for row in found] == [p.row() for p in expected["passages"]]


def check_models(database, simulator, names: Names | None = None) -> None:
    """The dbt models equal what the API's data implies; every column described; GIN index."""
    expected = modelled(simulator, names)
    columns = [
        "interview_request_id",
        "status",
        "completed_at",
        "email_sent_at",
        "hours_to_email",
        "hours_email_to_completed",
        "turn_count",
        "buyer_turn_count",
        "buyer_word_count",
        "deal_status",
        "deal_outcome",
        "salesforce_id",
        "hubspot_id",
        "primary_competitor_id",
        "primary_competitor_name",
    ]
    with database.connect() as connection:
        rows = connection.execute(
            f"SELECT {', '.join(columns)} FROM analytics.hindsight_interviews ORDER BY 1"  # noqa: S608
        ).fetchall()
        turns = connection.execute(
            "SELECT interview_request_id, turn_index, speaker, text, word_count, deal_id"
            " FROM analytics.hindsight_buyer_turns ORDER BY 1, 2"
        ).fetchall()
        documents = connection.execute(
            "SELECT document_kind, count(*) FROM analytics.hindsight_transcript_search"
            " GROUP BY 1 ORDER BY 1"
        ).fetchall()
        drivers = connection.execute(
            "SELECT deal_id, deal_outcome, driver_index, reason_id, reason_name, category,"
            " positive, summary FROM analytics.hindsight_deal_drivers ORDER BY 1, 3"
        ).fetchall()
        indexed = connection.execute(
            "SELECT search_key, passage_id, body FROM analytics.hindsight_transcript_search"
            " WHERE document_kind = 'passage' ORDER BY 1"
        ).fetchall()
        (gin,) = connection.execute(
            "SELECT count(*) FROM pg_indexes WHERE schemaname = 'analytics'"
            " AND tablename = 'hindsight_transcript_search'"
            " AND indexdef ILIKE '%USING gin (search_vector)%'"
        ).fetchone()
    assert rows == [tuple(i[c] for c in columns) for i in expected["interviews"]]
    assert turns == expected["buyer_turns"]
    completed = sum(1 for i in expected["interviews"] if i["content"] is not None)
    assert documents == [
        ("buyer_turn", len(expected["buyer_turns"])),
        ("passage", len(expected["passages"])),
        ("transcript", completed),
    ]
    assert gin == 1
    assert drivers == expected["deal_drivers"]
    assert drivers
    check_passages(passages_in(database), expected)
    # Search results and passages agree: the same IDs, the same text.
    assert indexed == sorted(
        (f"passage:{p.passage_id}", p.passage_id, p.body) for p in expected["passages"]
    )
    check_model_docs(database)


def check_model_docs(database) -> None:
    """Every column of every model is in schema.yml with a description, and is commented."""
    with database.connect() as connection:
        for model in SCHEMA["models"]:
            documented = {c["name"]: c.get("description", "") for c in model["columns"]}
            found = connection.execute(
                "SELECT a.attname, col_description(a.attrelid, a.attnum)"
                " FROM pg_attribute AS a WHERE a.attrelid = %s::regclass"
                " AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum",
                (f"analytics.{model['name']}",),
            ).fetchall()
            assert [name for name, _ in found] == list(documented), model["name"]
            assert all(documented[name].strip() for name, _ in found), model["name"]
            assert [comment for _, comment in found] == [documented[n] for n, _ in found]


def check_documented_queries(database, simulator, names: Names | None = None) -> None:
    queries = documented_queries(REPO / QUERIES_DOC, "postgres")
    assert set(queries) == {
        "completed-per-week",
        "email-to-completion",
        "search-pricing",
        "lost-to-competitor-x-on-pricing",
        "lost-deals-by-competitor",
        "lost-deals-by-reason",
        "passages-lost-to-competitor-x-on-pricing",
        "drivers-by-status",
        "still-waiting",
    }
    expected = modelled(simulator, names)
    interviews, deals = expected["interviews"], expected["deals"]
    completed = [i for i in interviews if i["status"] == "completed"]
    with database.connect() as connection:

        def run(name):
            return connection.execute(queries[name]).fetchall()

        weeks = Counter()
        for interview in completed:
            done = interview["completed_at"]
            week = (done - timedelta(days=done.weekday())).replace(hour=0, minute=0, second=0)
            weeks[week] += 1
        assert run("completed-per-week") == sorted(weeks.items())

        spans = [i["hours_email_to_completed"] for i in completed]
        ((count, average, longest),) = run("email-to-completion")
        assert count == len(completed)
        assert abs(average - sum(spans) / len(spans)) <= Decimal("0.05")
        assert longest == max(spans)

        # Full-text search: every inflected form of "price", none with a form of "discount".
        found = run("search-pricing")
        assert sorted(row[0] for row in found) == [
            i["interview_request_id"]
            for i in completed
            if PRICE.search(i["content"]) and not DISCOUNT.search(i["content"])
        ]
        assert any(DISCOUNT.search(i["content"]) for i in completed)  # something was excluded
        ranks = [row[1] for row in found]
        assert ranks == sorted(ranks, reverse=True)
        assert ranks[-1] > 0
        for _, _, passage in found:
            words = HIGHLIGHT.findall(passage)
            assert words, passage
            assert all(PRICE.fullmatch(word) for word in words), passage
        forms = {word.lower() for row in found for word in HIGHLIGHT.findall(row[2])}
        assert {"price", "pricing"} <= forms

        by_id = {i["interview_request_id"]: i for i in interviews}
        lost_x = [
            (interview_id, index, by_id[interview_id]["deal_status"], speaker, text)
            for interview_id, index, speaker, text, _, _ in expected["buyer_turns"]
            if by_id[interview_id]["deal_outcome"] == "lost"
            and by_id[interview_id]["primary_competitor_id"] == "cmp_competitor_x"
            and PRICE.search(text)
        ]
        assert lost_x
        said = run("lost-to-competitor-x-on-pricing")
        assert [(*row[:4], row[4].replace("<b>", "").replace("</b>", "")) for row in said] == (
            lost_x
        )
        assert all(PRICE.fullmatch(w) for row in said for w in HIGHLIGHT.findall(row[4]))

        lost = {}
        for interview in interviews:
            if interview["deal_outcome"] == "lost":
                row = lost.setdefault(interview["primary_competitor_name"], [0, 0, 0])
                row[0] += 1
                row[1] += interview["status"] == "completed"
                row[2] += interview["buyer_word_count"]
        assert lost
        assert run("lost-deals-by-competitor") == [
            (competitor, *counts)
            for competitor, counts in sorted(lost.items(), key=lambda kv: (kv[0] is None, kv[0]))
        ]

        check_name_queries(run, expected)

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

        waiting = sorted(
            (i for i in interviews if i["status"] != "completed"),
            key=lambda i: (
                i["email_sent_at"] is None,
                str(i["email_sent_at"] or ""),
                i["interview_request_id"],
            ),
        )
        assert run("still-waiting") == [
            (i["interview_request_id"], i["status"], i["email_sent_at"]) for i in waiting
        ]


def check_name_queries(run, expected: dict[str, Any]) -> None:
    """The documented queries that read the seeds' names and the passages."""
    reasons = {}
    for _, result, _, _, name, category, positive, _ in expected["deal_drivers"]:
        if result == "lost":
            reasons.setdefault((name, category), Counter())[positive] += 1
    assert reasons
    assert run("lost-deals-by-reason") == sorted(
        ((*key, counts[False], counts[True]) for key, counts in reasons.items()),
        key=lambda row: (-row[2], row[0]),
    )

    by_interview = {i["interview_request_id"]: i for i in expected["interviews"]}
    passages = [
        (p.interview_request_id, p.passage_index, p.speakers, p.word_count, p.body)
        for p in expected["passages"]
        if by_interview[p.interview_request_id]["deal_outcome"] == "lost"
        and by_interview[p.interview_request_id]["primary_competitor_name"] == "Competitor X"
        and PRICE.search(p.body)
    ]
    assert passages
    assert run("passages-lost-to-competitor-x-on-pricing") == passages


def check_crm_joins(database, simulator) -> None:
    """The documented joins into the CRM taps' tables find each interview's opportunity
    and deal: tables named and typed as tap-salesforce and tap-hubspot load them, holding
    the simulator's deals and some of the CRM's own."""
    deals = [storable(d) for d in simulator.deals("acme")]
    with database.connect() as connection:
        connection.execute(
            'CREATE SCHEMA tap_salesforce; CREATE TABLE tap_salesforce."Opportunity"'
            ' ("Id" text PRIMARY KEY, "Name" text, "StageName" text, "Amount" numeric)'
        )
        connection.execute(
            "CREATE SCHEMA tap_hubspot; CREATE TABLE tap_hubspot.deals"
            ' (id text PRIMARY KEY, properties jsonb, "createdAt" timestamptz)'
        )
        opportunities = [
            # Salesforce's API serves the 18-character form of the ID Hindsight holds.
            (f"{d['salesforce_id']}QAA", d["name"], d["status_id"], Decimal(str(d["amount"])))
            for d in deals
            if d["salesforce_id"]
        ] + [("006000000000000AAA", "Not interviewed", "Prospecting", Decimal(1))]
        connection.cursor().executemany(
            'INSERT INTO tap_salesforce."Opportunity" VALUES (%s, %s, %s, %s)', opportunities
        )
        hubspot = [
            (d["hubspot_id"], json.dumps({"dealname": d["name"], "dealstage": d["status_id"]}))
            for d in deals
            if d["hubspot_id"]
        ] + [("1", json.dumps({"dealname": "Not interviewed", "dealstage": "open"}))]
        connection.cursor().executemany(
            "INSERT INTO tap_hubspot.deals VALUES (%s, %s, now())", hubspot
        )
        queries = documented_queries(REPO / QUERIES_DOC, "crm")
        assert set(queries) == {"salesforce-opportunities", "hubspot-deals"}
        salesforce = connection.execute(queries["salesforce-opportunities"]).fetchall()
        found_hubspot = connection.execute(queries["hubspot-deals"]).fetchall()
    by_id = {d["id"]: d for d in deals}
    interviews = [(i, by_id.get(simulator.interview(i)["deal_id"])) for i in IDS]
    expected_salesforce = [
        (i, outcome(d), f"{d['salesforce_id']}QAA", d["status_id"], Decimal(str(d["amount"])))
        for i, d in interviews
        if d and d["salesforce_id"]
    ]
    expected_hubspot = [
        (i, outcome(d), d["hubspot_id"], d["name"], d["status_id"])
        for i, d in interviews
        if d and d["hubspot_id"]
    ]
    assert expected_salesforce
    assert expected_hubspot
    assert salesforce == expected_salesforce
    assert found_hubspot == expected_hubspot


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
