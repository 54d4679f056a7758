{#- Helpers shared by the hindsight_* models; each works on PostgreSQL and DuckDB. -#}

{% macro hindsight_table(name) %}
  {#- The loaded table `name` of the `hindsight` source, or none when it does not exist
      (its stream never loaded a row: not selected, or nothing to load yet). Always none
      while dbt parses. -#}
  {%- set table = source('hindsight', name) -%}
  {%- if not execute -%}{{ return(none) }}{%- endif -%}
  {{ return(adapter.get_relation(database=table.database, schema=table.schema,
                                 identifier=table.identifier)) }}
{% endmacro %}

{#- The columns the models read from each loaded table, with a type every warehouse
    knows: what an empty stand-in for a table not loaded yet has. -#}
{% macro hindsight_columns(name) %}
  {%- set columns = {
      'interviews': [
          ('interview_request_id', 'bigint'), ('status', 'text'), ('objective', 'text'),
          ('contact_id', 'text'), ('deal_id', 'text'), ('survey_url', 'text'),
          ('created_at', 'timestamp'), ('email_sent_at', 'timestamp'),
          ('transcript__document_id', 'text'), ('transcript__content', 'text'),
          ('transcript__created_at', 'timestamp'),
      ],
      'interview_turns': [
          ('interview_request_id', 'bigint'), ('turn_index', 'bigint'), ('speaker', 'text'),
          ('is_interviewer', 'boolean'), ('text', 'text'), ('word_count', 'bigint'),
          ('transcript_created_at', 'timestamp'),
      ],
      'deals': [
          ('id', 'text'), ('name', 'text'), ('status_id', 'text'), ('amount', 'numeric'),
      ],
      'deal_drivers': [
          ('deal_id', 'text'), ('driver_index', 'bigint'), ('reason_id', 'text'),
          ('positive', 'boolean'), ('summary', 'text'), ('removed', 'boolean'),
      ],
  } -%}
  {{ return(columns[name]) }}
{% endmacro %}

{% macro hindsight_source(name) -%}
  {#- The loaded table `name`, or, before its stream has loaded a row (a new pipeline whose
      interviews are all pending has no interview_turns table yet), an empty relation with
      its columns: the models build, empty, instead of failing the run. -#}
  {%- set table = hindsight_table(name) -%}
  {%- if table is not none or not execute -%}
    {{ source('hindsight', name) }}
  {%- else -%}
    (select
    {%- for column, type in hindsight_columns(name) %}
        cast(null as {{ type }}) as {{ column }}{{ "," if not loop.last }}
    {%- endfor %}
     where 1 = 0)
  {%- endif -%}
{%- endmacro %}

{% macro hindsight_hours(start, finish) -%}
  {#- Hours from `start` to `finish`, two decimals; null if either is null. -#}
  cast(round(extract(epoch from ({{ finish }} - {{ start }})) / 3600.0, 2) as numeric(12, 2))
{%- endmacro %}

{% macro hindsight_loaded_at(name, alias) -%}
  {#- When the loader wrote the row of table `name` (target-postgres's _sdc_batched_at), or
      null where there is no such column (target-duckdb's demo, a table not loaded yet). -#}
  {%- if '_sdc_batched_at' in hindsight_column_names(name) -%}
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

{% macro hindsight_deleted_at(name, alias) -%}
  {#- When the tap found the row of table `name` deleted at the source (the
      `_sdc_deleted_at` it sends once, see docs/state-and-polling.md#deletions), or null
      where the table has no such column (nothing deleted yet, or not loaded yet). -#}
  {%- if '_sdc_deleted_at' in hindsight_column_names(name) -%}
    {{ alias }}._sdc_deleted_at
  {%- else -%}
    cast(null as timestamp)
  {%- endif -%}
{%- endmacro %}

{% macro hindsight_column_names(name) -%}
  {#- The lower-cased column names of loaded table `name` (none if not loaded). -#}
  {%- set table = hindsight_table(name) -%}
  {%- set names = [] -%}
  {%- if table is not none -%}
    {%- for column in adapter.get_columns_in_relation(table) -%}
      {%- do names.append(column.name | lower) -%}
    {%- endfor -%}
  {%- endif -%}
  {{ return(names) }}
{%- endmacro %}

{% macro hindsight_drop_deleted(keys=true) -%}
  {#- After an incremental run: delete the modelled rows of interviews (and, with `keys`
      naming the turn, of turns) deleted at the source since. Their deletion rows are
      left out of every slice, so without this the rows modelled before would stay. -#}
  {%- set statements = [] -%}
  {%- if is_incremental() and '_sdc_deleted_at' in hindsight_column_names('interviews') -%}
    {%- do statements.append(
        "delete from " ~ this ~ " where interview_request_id in (select interview_request_id from "
        ~ source('hindsight', 'interviews') ~ " where _sdc_deleted_at is not null)") -%}
  {%- endif -%}
  {%- if keys and is_incremental()
        and '_sdc_deleted_at' in hindsight_column_names('interview_turns') -%}
    {%- do statements.append(
        "delete from " ~ this ~ " where (interview_request_id, turn_index) in (select"
        ~ " interview_request_id, turn_index from " ~ source('hindsight', 'interview_turns')
        ~ " where _sdc_deleted_at is not null)") -%}
  {%- endif -%}
  {{ statements | join('; ') if statements else 'select 1' }}
{%- endmacro %}

{% macro hindsight_deal_outcome(alias) -%}
  {#- The deal's CRM stage as won, lost or open (a stage naming neither); null without a
      deal. -#}
  case
      when {{ alias }}.id is null then null
      when lower({{ alias }}.status_id) like '%lost%' then 'lost'
      when lower({{ alias }}.status_id) like '%won%' then 'won'
      else 'open'
  end
{%- endmacro %}

{#- Text helpers of the passages model, written once for PostgreSQL and DuckDB. A word
    is a run of characters between whitespace: both warehouses count it the same way. -#}

{% macro hindsight_word_count(text) -%}
  {%- if target.type == 'duckdb' -%}
    len(regexp_extract_all({{ text }}, '\S+'))
  {%- else -%}
    (select count(*) from regexp_matches({{ text }}, '\S+', 'g'))
  {%- endif -%}
{%- endmacro %}

{% macro hindsight_sentences(text) -%}
  {#- `text` as a list of sentences: cut after . ! or ? where whitespace follows; each
      sentence but the first starts with the whitespace it followed, so the sentences
      joined give `text` back. -#}
  {%- set marked = "regexp_replace(" ~ text ~ ", '([.!?])(\\s)', '\\1' || chr(30) || '\\2', 'g')" -%}
  {%- if target.type == 'duckdb' -%}
    string_split({{ marked }}, chr(30))
  {%- else -%}
    string_to_array({{ marked }}, chr(30))
  {%- endif -%}
{%- endmacro %}

{% macro hindsight_words(text) -%}
  {#- `text` as a list of its words. -#}
  {%- if target.type == 'duckdb' -%}
    string_split_regex({{ hindsight_trim(text) }}, '\s+')
  {%- else -%}
    regexp_split_to_array({{ hindsight_trim(text) }}, '\s+')
  {%- endif -%}
{%- endmacro %}

{% macro hindsight_unnest(list, value, position) -%}
  {#- Select-list items: one row per element of `list`, as `value`, with its 1-based
      `position`. -#}
  {%- if target.type == 'duckdb' -%}
    unnest({{ list }}) as {{ value }}, unnest(range(1, len({{ list }}) + 1)) as {{ position }}
  {%- else -%}
    unnest({{ list }}) as {{ value }}, generate_series(1, cardinality({{ list }})) as {{ position }}
  {%- endif -%}
{%- endmacro %}

{% macro hindsight_trim(text) -%}
  {#- `text` without leading and trailing whitespace (line breaks too). -#}
  regexp_replace({{ text }}, '^\s+|\s+$', '', 'g')
{%- endmacro %}

{% macro hindsight_drop_orphans(parent) -%}
  {#- After an incremental run: delete the modelled rows of interviews that no longer
      have a turn in `parent` (deleted, or every turn deleted at the source). NOT EXISTS,
      not NOT IN: PostgreSQL turns a NOT IN over more rows than work_mem holds into a
      scan per row. -#}
  {%- if is_incremental() -%}
    delete from {{ this }} as modelled where not exists (
        select 1 from {{ parent }} as i
        where i.interview_request_id = modelled.interview_request_id and i.turn_count > 0)
  {%- else -%}
    select 1
  {%- endif -%}
{%- endmacro %}

{% macro hindsight_drop_stale_passages(passages) -%}
  {#- After an incremental run of the search model: delete the passages `passages` no
      longer has (their text changed, so their ID did, or they were deleted). -#}
  {%- if is_incremental() -%}
    delete from {{ this }} as indexed where indexed.document_kind = 'passage'
    and not exists (
        select 1 from {{ passages }} as p where p.passage_id = indexed.passage_id)
  {%- else -%}
    select 1
  {%- endif -%}
{%- endmacro %}
