{#- Helpers shared by the hindsight_* models; each works on PostgreSQL and DuckDB. -#}

{% macro hindsight_table(name) %}
  {#- The loaded table `name` of the `hindsight` source, or none when it does not exist
      (its stream was never selected). Always none while dbt parses. -#}
  {%- if not execute -%}{{ return(none) }}{%- endif -%}
  {%- set table = source('hindsight', name) -%}
  {{ return(adapter.get_relation(database=table.database, schema=table.schema,
                                 identifier=table.identifier)) }}
{% endmacro %}

{% macro hindsight_hours(start, finish) -%}
  {#- Hours from `start` to `finish`, two decimals; null if either is null. -#}
  cast(round(extract(epoch from ({{ finish }} - {{ start }})) / 3600.0, 2) as numeric(12, 2))
{%- endmacro %}

{% macro hindsight_loaded_at(relation, alias) -%}
  {#- When the loader wrote the row (target-postgres's _sdc_batched_at), or null where the
      loader adds no such column (the demo's target-duckdb). -#}
  {%- set names = [] -%}
  {%- if execute -%}
    {%- for column in adapter.get_columns_in_relation(relation) -%}
      {%- do names.append(column.name | lower) -%}
    {%- endfor -%}
  {%- endif -%}
  {%- if '_sdc_batched_at' in names -%}
    cast({{ alias }}._sdc_batched_at as timestamp)
  {%- else -%}
    cast(null as timestamp)
  {%- endif -%}
{%- endmacro %}

{% macro hindsight_since_last_run(column) -%}
  {#- In an incremental run: the rows loaded since the newest row already modelled, less an
      hour (a batch committed late, or a run that overlapped a load, is picked up again;
      the unique key replaces what was modelled twice). -#}
  {{ column }} is null
  or {{ column }} >= (
      select coalesce(max(loaded_at), cast('1970-01-01' as timestamp)) from {{ this }}
  ) - interval '1 hour'
{%- endmacro %}
