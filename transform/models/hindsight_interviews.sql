{#- One row per interview: its lifecycle in hours, its transcript's size, and its deal once
    the `deals` stream is loaded (left join: without that table the deal columns are null;
    without turns loaded yet, the counts are 0), with the deal's keys into the CRM and its
    primary competitor's name from the `hindsight_competitors` seed (the ID where the seed
    has no name). Interviews, turns and deals deleted at the source (`_sdc_deleted_at`)
    are left out. -#}
{{ config(materialized='table') }}
-- depends_on: {{ ref('hindsight_competitors') }}

{%- set deals = hindsight_table('deals') %}
{%- set competitors = hindsight_table('deal_competitors') %}

with interviews as (
    select * from {{ hindsight_source('interviews') }} as loaded
    where {{ hindsight_deleted_at('interviews', 'loaded') }} is null
),

turns as (
    select
        interview_request_id,
        count(*) as turn_count,
        count(*) filter (where is_interviewer = false) as buyer_turn_count,
        coalesce(sum(word_count) filter (where is_interviewer = false), 0) as buyer_word_count
    from {{ hindsight_source('interview_turns') }} as loaded
    where {{ hindsight_deleted_at('interview_turns', 'loaded') }} is null
    group by interview_request_id
)
{%- if competitors %},

primary_competitors as (
    select deal_id, min(competitor_id) as competitor_id
    from {{ competitors }}
    where is_primary and not coalesce(removed, false)
    group by deal_id
)
{%- endif %}

select
    i.interview_request_id,
    i.status,
    i.objective,
    i.contact_id,
    i.deal_id,
    i.survey_url,
    i.created_at,
    i.email_sent_at,
    i.transcript__created_at as completed_at,
    i.transcript__document_id as transcript_document_id,
    {{ hindsight_hours('i.created_at', 'i.email_sent_at') }} as hours_to_email,
    {{ hindsight_hours('i.email_sent_at', 'i.transcript__created_at') }} as hours_email_to_completed,
    {{ hindsight_hours('i.created_at', 'i.transcript__created_at') }} as hours_to_completed,
    coalesce(t.turn_count, 0) as turn_count,
    coalesce(t.buyer_turn_count, 0) as buyer_turn_count,
    coalesce(t.buyer_word_count, 0) as buyer_word_count,
{%- if deals %}
    d.name as deal_name,
    d.status_id as deal_status,
    {{ hindsight_deal_outcome('d') }} as deal_outcome,
    cast(d.amount as numeric(18, 2)) as deal_amount,
    d.created_at as deal_created_at,
    d.salesforce_id,
    d.hubspot_id,
{%- else %}
    cast(null as text) as deal_name,
    cast(null as text) as deal_status,
    cast(null as text) as deal_outcome,
    cast(null as numeric(18, 2)) as deal_amount,
    cast(null as timestamp) as deal_created_at,
    cast(null as text) as salesforce_id,
    cast(null as text) as hubspot_id,
{%- endif %}
{%- if deals and competitors %}
    c.competitor_id as primary_competitor_id,
    coalesce(n.competitor_name, c.competitor_id) as primary_competitor_name
{%- else %}
    cast(null as text) as primary_competitor_id,
    cast(null as text) as primary_competitor_name
{%- endif %}
from interviews as i
left join turns as t on t.interview_request_id = i.interview_request_id
{%- if deals %}
left join {{ deals }} as d
    on d.id = i.deal_id and {{ hindsight_deleted_at('deals', 'd') }} is null
{%- endif %}
{%- if deals and competitors %}
left join primary_competitors as c on c.deal_id = d.id
left join {{ ref('hindsight_competitors') }} as n on n.competitor_id = c.competitor_id
{%- endif %}
