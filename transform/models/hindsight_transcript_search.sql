{#- Full-text search over every completed transcript and every buyer turn. On PostgreSQL
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
    post_hook=["{{ hindsight_drop_deleted(keys=true) }}"],
) }}

with transcripts as (
    select
        'transcript:' || cast(i.interview_request_id as text) as search_key,
        'transcript' as document_kind,
        i.interview_request_id,
        cast(null as integer) as turn_index,
        cast(null as text) as speaker,
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
        text as body,
        completed_at,
        loaded_at
    from {{ ref('hindsight_buyer_turns') }}
),

documents as (
    select * from transcripts
    union all
    select * from buyer_turns
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
{%- endif %}
from documents
{%- if is_incremental() %}
where {{ hindsight_since_last_run('loaded_at') }}
{%- endif %}
