{#- Each completed transcript cut into passages of whole turns, at most `limit` words each,
    ready to embed or to hand to an LLM: a passage stands alone (each turn as
    `Speaker: text`) and carries its interview's deal outcome, competitor and objective.

    The cut: the transcript's turns, in order, are packed greedily: a passage takes the
    next turn while its words stay within the limit, else a new passage starts. A turn
    longer than the limit is cut at sentence ends (a sentence longer than the limit, at
    `limit` words), and its sentences are packed the same way, so a turn is split only
    when it cannot fit in one passage. A word is a run of characters between whitespace.

    passage_id is an MD5 of the interview, the passage's position and its body: the same
    passage keeps its ID across runs and full rebuilds, and a passage whose text changed
    (a redaction) gets a new one, which tells an embedding job what to embed again.

    On PostgreSQL it is incremental: a run cuts again only the interviews whose turns were
    loaded since the last run, those not cut yet, and those whose context (objective, deal
    outcome, competitor and its name) changed; the unique key replaces all of an
    interview's passages at once. -#}
{%- set postgres = target.type == 'postgres' %}
{%- set limit = 300 %}
{#- jit off: PostgreSQL cannot estimate the rows of the recursive packing, guesses
    millions, and spent 1.6 of 1.7 s compiling the query (JIT) for a few thousand. #}
{{ config(
    materialized='incremental' if postgres else 'table',
    unique_key='interview_request_id',
    incremental_strategy='delete+insert',
    indexes=[
        {'columns': ['passage_id'], 'unique': true},
        {'columns': ['interview_request_id', 'passage_index'], 'unique': true},
    ] if postgres else [],
    pre_hook=["set local jit = off"] if postgres else [],
    post_hook=["{{ hindsight_drop_orphans(ref('hindsight_interviews')) }}"],
) }}

with recursive interviews as (
    select
        interview_request_id,
        objective,
        deal_outcome,
        primary_competitor_id,
        primary_competitor_name,
        completed_at
    from {{ ref('hindsight_interviews') }}
    where turn_count > 0
),

loaded_turns as (
    select
        t.*,
        {{ hindsight_loaded_at('interview_turns', 't') }} as loaded_at,
        {{ hindsight_deleted_at('interview_turns', 't') }} as deleted_at
    from {{ hindsight_source('interview_turns') }} as t
),

turn_loads as (
    -- When each interview's turns were last written (deleted ones too: a redaction).
    select interview_request_id, max(loaded_at) as loaded_at
    from loaded_turns
    group by interview_request_id
),

cut as (
    select i.*, l.loaded_at
    from interviews as i
    left join turn_loads as l on l.interview_request_id = i.interview_request_id
{%- if is_incremental() %}
    where {{ hindsight_since_last_run('l.loaded_at') }}
    or not exists (
        -- Not cut yet, or cut with a context that has changed since.
        select 1 from {{ this }} as p
        where p.interview_request_id = i.interview_request_id
          and p.passage_index = 0
          and p.objective is not distinct from i.objective
          and p.deal_outcome is not distinct from i.deal_outcome
          and p.primary_competitor_id is not distinct from i.primary_competitor_id
          and p.primary_competitor_name is not distinct from i.primary_competitor_name
    )
{%- endif %}
),

turns as (
    select
        t.interview_request_id,
        t.turn_index,
        t.speaker,
        t.text,
        {{ hindsight_word_count('t.text') }} as words
    from loaded_turns as t
    join cut as c on c.interview_request_id = t.interview_request_id
    where t.deleted_at is null
),

-- The sentences of each turn longer than the limit.
sentences as (
    select
        interview_request_id,
        turn_index,
        speaker,
        {{ hindsight_unnest(hindsight_sentences('text'), 'sentence', 'sentence_index') }}
    from turns
    where words > {{ limit }}
),

sized_sentences as (
    select *, {{ hindsight_word_count('sentence') }} as words
    from sentences
),

-- The words of each sentence longer than the limit, cut into runs of `limit` words.
long_sentence_words as (
    select
        interview_request_id,
        turn_index,
        speaker,
        sentence_index,
        {{ hindsight_unnest(hindsight_words('sentence'), 'word', 'word_index') }}
    from sized_sentences
    where words > {{ limit }}
),

-- What is packed: a turn within the limit whole, else its sentences, else runs of words.
units as (
    select interview_request_id, turn_index, speaker, 0 as sentence_index, 0 as run_index,
           text as unit, words
    from turns
    where words <= {{ limit }}
    union all
    select interview_request_id, turn_index, speaker, sentence_index, 0 as run_index,
           sentence as unit, words
    from sized_sentences
    where words <= {{ limit }}
    union all
    select interview_request_id, turn_index, speaker, sentence_index,
           cast(floor((word_index - 1) / {{ limit }}.0) as integer) as run_index,
           ' ' || string_agg(word, ' ' order by word_index) as unit,
           count(*) as words
    from long_sentence_words
    where word != ''
    group by 1, 2, 3, 4, 5
),

ordered_units as (
    select
        *,
        row_number() over (
            partition by interview_request_id
            order by turn_index, sentence_index, run_index
        ) as unit_index
    from units
),

-- Greedy packing, one unit after the other in each interview.
packed as (
    select
        interview_request_id,
        unit_index,
        0 as passage_index,
        cast(words as bigint) as filled
    from ordered_units
    where unit_index = 1
    union all
    select
        u.interview_request_id,
        u.unit_index,
        p.passage_index + case when p.filled + u.words > {{ limit }} then 1 else 0 end,
        case when p.filled + u.words > {{ limit }} then cast(u.words as bigint)
             else p.filled + u.words end
    from packed as p
    join ordered_units as u
        on u.interview_request_id = p.interview_request_id
       and u.unit_index = p.unit_index + 1
),

-- A turn's part in a passage: the whole turn, or the sentences of it the passage holds.
segments as (
    select
        u.interview_request_id,
        p.passage_index,
        u.turn_index,
        min(u.speaker) as speaker,
        {{ hindsight_trim("string_agg(u.unit, '' order by u.unit_index)") }} as text,
        sum(u.words) as words
    from ordered_units as u
    join packed as p
        on p.interview_request_id = u.interview_request_id and p.unit_index = u.unit_index
    group by 1, 2, 3
),

passages as (
    select
        interview_request_id,
        passage_index,
        min(turn_index) as first_turn_index,
        max(turn_index) as last_turn_index,
        string_agg(
            coalesce(speaker || ': ', '') || text, chr(10) || chr(10) order by turn_index
        ) as body,
        cast(sum(words) as integer) as word_count
    from segments
    group by 1, 2
),

speakers as (
    select interview_request_id, passage_index,
           string_agg(speaker, ', ' order by first_turn) as speakers
    from (
        select interview_request_id, passage_index, speaker, min(turn_index) as first_turn
        from segments
        where speaker is not null
        group by 1, 2, 3
    ) as spoken
    group by 1, 2
)

select
    md5(
        cast(p.interview_request_id as text) || ':' || cast(p.passage_index as text) || ':'
        || p.body
    ) as passage_id,
    p.interview_request_id,
    cast(p.passage_index as integer) as passage_index,
    cast(p.first_turn_index as integer) as first_turn_index,
    cast(p.last_turn_index as integer) as last_turn_index,
    p.body,
    p.word_count,
    s.speakers,
    c.deal_outcome,
    c.primary_competitor_id,
    c.primary_competitor_name,
    c.objective,
    c.completed_at,
    c.loaded_at
from passages as p
join cut as c on c.interview_request_id = p.interview_request_id
left join speakers as s
    on s.interview_request_id = p.interview_request_id and s.passage_index = p.passage_index
