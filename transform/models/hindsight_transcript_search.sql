{#- Full-text search over every completed transcript, every buyer turn and every passage
    of hindsight_transcript_passages (the same passage_id, so a search's hits are the
    passages an embedding job embeds). On PostgreSQL
    each row carries `search_vector`, to_tsvector('english', body), under a GIN index:
    websearch_to_tsquery('english', 'pricing -discount') finds "price", "prices",
    "priced" and "pricing", ts_rank ranks, ts_headline shows the passage. Incremental there
    (a vector is computed once per document). DuckDB's full-text extension cannot be
    installed offline: there the same rows come without the vector, for ILIKE. -#}
{%- set postgres = target.type == 'postgres' %}
{{ config(
    materialized='incremental' if postgres else 'table',
    unique_key='search_key',
    incremental_strategy='delete+insert',
    indexes=[
        {'columns': ['search_vector'], 'type': 'gin'},
        {'columns': ['search_key'], 'unique': true},
        {'columns': ['interview_request_id']},
    ] if postgres else [],
    persist_docs={'relation': true, 'columns': postgres},
    on_schema_change='append_new_columns',
    post_hook=[
        "{{ hindsight_drop_deleted(keys=true) }}",
        "{{ hindsight_drop_stale_passages(ref('hindsight_transcript_passages')) }}",
    ],
) }}

with transcripts as (
    select
        'transcript:' || cast(i.interview_request_id as text) as search_key,
        'transcript' as document_kind,
        i.interview_request_id,
        cast(null as integer) as turn_index,
        cast(null as text) as speaker,
        cast(null as text) as passage_id,
        i.transcript__content as body,
        i.transcript__created_at as completed_at,
        {{ hindsight_loaded_at('interviews', 'i') }} as loaded_at
    from {{ hindsight_source('interviews') }} as i
    where i.transcript__content is not null
      and {{ hindsight_deleted_at('interviews', 'i') }} is null
),

buyer_turns as (
    select
        'buyer_turn:' || cast(interview_request_id as text) || ':' || cast(turn_index as text)
            as search_key,
        'buyer_turn' as document_kind,
        interview_request_id,
        turn_index,
        speaker,
        cast(null as text) as passage_id,
        text as body,
        completed_at,
        loaded_at
    from {{ ref('hindsight_buyer_turns') }}
),

passages as (
    select
        'passage:' || passage_id as search_key,
        'passage' as document_kind,
        interview_request_id,
        first_turn_index as turn_index,
        speakers as speaker,
        passage_id,
        body,
        completed_at,
        loaded_at
    from {{ ref('hindsight_transcript_passages') }}
),

documents as (
    select * from transcripts
{%- if is_incremental() %}
    where {{ hindsight_since_last_run('loaded_at') }}
{%- endif %}
    union all
    select * from buyer_turns
{%- if is_incremental() %}
    where {{ hindsight_since_last_run('loaded_at') }}
{%- endif %}
    union all
    select * from passages
{%- if is_incremental() %}
    -- A passage's ID changes with its text: index the IDs not indexed yet.
    where not exists (
        select 1 from {{ this }} as indexed where indexed.search_key = passages.search_key
    )
{%- endif %}
)

select
    search_key,
    document_kind,
    interview_request_id,
    turn_index,
    speaker,
    body,
    completed_at,
    loaded_at
{%- if postgres %},
    to_tsvector('english', body) as search_vector
{%- endif %},
    passage_id
from documents
