{#- One row per win-loss driver a deal has now (drivers the deal lost, `removed` in the
    loaded table, are left out, and so are deleted deals), with the deal's outcome and the
    reason's name and category from the `hindsight_driver_reasons` seed (the reason's ID
    where the seed has no name). Empty while the deals streams are not loaded. -#}
{{ config(materialized='table') }}

select
    d.id as deal_id,
    d.name as deal_name,
    d.status_id as deal_status,
    {{ hindsight_deal_outcome('d') }} as deal_outcome,
    cast(r.driver_index as integer) as driver_index,
    r.reason_id,
    coalesce(n.reason_name, r.reason_id) as reason_name,
    n.category,
    r.positive,
    r.summary
from {{ hindsight_source('deal_drivers') }} as r
join {{ hindsight_source('deals') }} as d on d.id = r.deal_id
left join {{ ref('hindsight_driver_reasons') }} as n on n.reason_id = r.reason_id
where not coalesce(r.removed, false)
  and {{ hindsight_deleted_at('deals', 'd') }} is null
  and {{ hindsight_deleted_at('deal_drivers', 'r') }} is null
