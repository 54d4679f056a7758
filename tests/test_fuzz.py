"""Fuzzing (hypothesis): any answer body and any config end in a valid record or a named
problem, never in a traceback."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from hindsight_simulator.data import make_interview
from tap_hindsight.answers import FetchResult, Outcome
from tap_hindsight.config_check import SettingsError
from tap_hindsight.judge import Kind, Rules, judge
from tap_hindsight.lifecycle import LifecycleState
from tap_hindsight.records import RecordValidator
from tap_hindsight.schemas import load_schema
from tap_hindsight.settings import SETTINGS, load_settings
from tap_hindsight.tap import TapHindsight

SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False),
    st.text(max_size=50),
    st.text(alphabet="0123456789", min_size=1, max_size=6),  # numbers as strings
    st.just("\x00\ud800 broken"),  # NUL and a lone surrogate (invalid UTF-8 when encoded)
)
JSON = st.recursive(
    SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=30,
)
FIELDS = list(load_schema("interviews")["properties"])
VALID = make_interview(7, 5, "completed")


def mutated():
    """A valid answer with fields replaced, removed or added at random."""
    return st.builds(
        lambda changes, removed, extra: {
            **{k: v for k, v in VALID.items() if k not in removed},
            **changes,
            **extra,
        },
        st.dictionaries(st.sampled_from(FIELDS), JSON, max_size=4),
        st.sets(st.sampled_from(FIELDS), max_size=3),
        st.dictionaries(st.text(max_size=10), JSON, max_size=3),
    )


#: Three times the profile's examples: 300 in `make test`, fewer in `make check`.
FUZZ_EXAMPLES = 3 * settings.default.max_examples

VALIDATOR = RecordValidator(load_schema("interviews"))
RULES = Rules("interviews", frozenset({"interview_turns"}), frozenset({"interviews"}), VALIDATOR)


@settings(max_examples=FUZZ_EXAMPLES, deadline=None)
@given(st.one_of(mutated(), st.dictionaries(st.text(max_size=10), JSON, max_size=6)))
def test_any_answer_is_emitted_valid_or_named_as_a_problem(body):
    known = LifecycleState()
    verdict = judge(FetchResult(5, Outcome.OK, record=body), known, RULES, 1_795_000_000)
    known.learn(5, verdict.learned)
    record = verdict.record if verdict.row else None
    if record is None:
        assert verdict.kind is Kind.INVALID  # named: the field
        assert "field '" in verdict.problem
        assert 5 in known.failed  # asked again next run
    else:
        assert VALIDATOR.problems(record) == []
        assert record["interview_request_id"] == 5


SETTING_NAMES = list(SETTINGS["properties"])
SCHEMA = TapHindsight.settings_schema()


@settings(max_examples=FUZZ_EXAMPLES, deadline=None)
@given(st.dictionaries(st.sampled_from(SETTING_NAMES), JSON, max_size=8))
def test_any_config_is_accepted_or_named(config):
    try:
        load_settings(config, SCHEMA)
    except SettingsError as error:  # either outcome is fine; anything else fails
        assert error.errors  # noqa: PT017
        for message in error.errors:
            assert message.split(":")[0].split("[")[0].split(" ")[0] in SETTING_NAMES
        about_the_key = " ".join(m for m in error.errors if m.startswith("api_key"))
        if "api_key" in config:
            assert repr(config["api_key"]) not in about_the_key  # a secret is never quoted
