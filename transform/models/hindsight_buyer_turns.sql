{#- The buyer's side of each transcript: the turns of the contact (not Hindsight's
    interviewer, not unattributed text), with their interview's context. On PostgreSQL it
    is incremental: a run models only the turns loaded since the last one, and those of
    interviews loaded since (an objective edited after completion, found by the tap's
    re-read cycle); the unique key replaces what was modelled before. Turns deleted
    at the source, and those of a deleted interview, are left out (and taken out of what
    was modelled before). -#}
{{ config(
    materialized='incremental' if target.type == 'postgres' else 'table',
    unique_key=['interview_request_id', 'turn_index'],
    incremental_strategy='delete+insert',
    indexes=[
        {'columns': ['interview_request_id', 'turn_index'], 'unique': true},
    ] if target.type == 'postgres' else [],
    post_hook=["{{ hindsight_drop_deleted(keys=true) }}"],
) }}

with turns as (
    select
        t.*,
        {{ hindsight_loaded_at('interview_turns', 't') }} as loaded_at
    from {{ hindsight_source('interview_turns') }} as t
    where t.is_interviewer = false
      and {{ hindsight_deleted_at('interview_turns', 't') }} is null
)

select
    t.interview_request_id,
    t.turn_index,
    t.speaker,
    t.text,
    t.word_count,
    i.objective,
    i.contact_id,
    i.deal_id,
    i.created_at as interview_created_at,
    t.transcript_created_at as completed_at,
    greatest(t.loaded_at, {{ hindsight_loaded_at('interviews', 'i') }}) as loaded_at
from turns as t
left join {{ hindsight_source('interviews') }} as i
    on i.interview_request_id = t.interview_request_id
where {{ hindsight_deleted_at('interviews', 'i') }} is null
{%- if is_incremental() %}
  and ({{ hindsight_since_last_run(
      "greatest(t.loaded_at, " ~ hindsight_loaded_at('interviews', 'i') ~ ")") }})
{%- endif %}
