-- Up Migration
-- Cheaper triggers: measured with pgbench, the first version (0004) ran about eight
-- statements per write (separate upserts for counts, days and version, each in its own
-- function). This one applies all three in one statement with data-modifying CTEs, and only
-- the rare cleanup of rows that reached zero runs separately. Same results, same locks in
-- the same order (count keys sorted, then days, then the version slot).

create or replace function tasks__count_changes() returns trigger
language plpgsql as $$
declare
  s smallint := pg_backend_pid() % 16;
  ks text[]; kp text[]; kc text[]; kn bigint[];
  dd date[]; dc bigint[]; dk bigint[];
  bumped integer;
  zs text[]; zp text[]; zc text[]; zd date[];
begin
  -- Each branch reduces the statement's rows to signed deltas (+1 new, -1 old) grouped by
  -- key, sorted; keys whose delta nets to zero (e.g. a title edit) are dropped.
  if tg_op = 'INSERT' then
    select array_agg(status order by status, priority, category), array_agg(priority order by status, priority, category),
           array_agg(category order by status, priority, category), array_agg(n order by status, priority, category)
      from (select status, priority, category, count(*) as n from new_rows group by 1, 2, 3) g
      into ks, kp, kc, kn;
    select array_agg(day order by day), array_agg(c order by day), array_agg(k order by day)
      from (select v.day, sum(v.c) as c, sum(v.k) as k
              from new_rows r,
                   lateral (values ((r.created_at at time zone 'UTC')::date, 1, 0),
                                   ((r.completed_at at time zone 'UTC')::date, 0, 1)) as v(day, c, k)
             where v.day is not null
             group by v.day) g
      into dd, dc, dk;
  elsif tg_op = 'DELETE' then
    select array_agg(status order by status, priority, category), array_agg(priority order by status, priority, category),
           array_agg(category order by status, priority, category), array_agg(-n order by status, priority, category)
      from (select status, priority, category, count(*) as n from old_rows group by 1, 2, 3) g
      into ks, kp, kc, kn;
    select array_agg(day order by day), array_agg(-c order by day), array_agg(-k order by day)
      from (select v.day, sum(v.c) as c, sum(v.k) as k
              from old_rows r,
                   lateral (values ((r.created_at at time zone 'UTC')::date, 1, 0),
                                   ((r.completed_at at time zone 'UTC')::date, 0, 1)) as v(day, c, k)
             where v.day is not null
             group by v.day) g
      into dd, dc, dk;
  else -- UPDATE
    select array_agg(status order by status, priority, category), array_agg(priority order by status, priority, category),
           array_agg(category order by status, priority, category), array_agg(n order by status, priority, category)
      from (select status, priority, category, sum(sign) as n
              from (select status, priority, category, 1 as sign from new_rows
                    union all
                    select status, priority, category, -1 from old_rows) r
             group by 1, 2, 3
            having sum(sign) <> 0) g
      into ks, kp, kc, kn;
    select array_agg(day order by day), array_agg(c order by day), array_agg(k order by day)
      from (select v.day, sum(v.c) as c, sum(v.k) as k
              from (select created_at, completed_at, 1 as sign from new_rows
                    union all
                    select created_at, completed_at, -1 from old_rows) r,
                   lateral (values ((r.created_at at time zone 'UTC')::date, r.sign, 0),
                                   ((r.completed_at at time zone 'UTC')::date, 0, r.sign)) as v(day, c, k)
             where v.day is not null
             group by v.day
            having sum(v.c) <> 0 or sum(v.k) <> 0) g
      into dd, dc, dk;
  end if;
  if ks is null and dd is null then
    return null; -- nothing any aggregate shows changed: the version (and so ETags) stays
  end if;

  with uk as (
    insert into task_counts as t (status, priority, category, slot, n)
    select x.status, x.priority, x.category, s, x.n from unnest(ks, kp, kc, kn) as x(status, priority, category, n)
    on conflict (status, priority, category, slot) do update set n = t.n + excluded.n
    returning t.status, t.priority, t.category, t.n
  ), ud as (
    insert into task_daily as t (day, slot, created, completed)
    select x.d, s, x.c, x.k from unnest(dd, dc, dk) as x(d, c, k)
    on conflict (day, slot) do update
      set created = t.created + excluded.created, completed = t.completed + excluded.completed
    returning t.day, t.created, t.completed
  ), v as (
    insert into analytics_version as t (slot, v)
    select s, 1 where exists (select from uk) or exists (select from ud)
    on conflict (slot) do update set v = t.v + 1
    returning 1
  )
  select (select count(*) from v),
         array_agg(z.status), array_agg(z.priority), array_agg(z.category),
         (select array_agg(day) from ud where created = 0 and completed = 0)
    from (select status, priority, category from uk where n = 0) z
    into bumped, zs, zp, zc, zd;

  if zs is not null then
    delete from task_counts t
     using unnest(zs, zp, zc) as z(status, priority, category)
     where t.slot = s and t.status = z.status and t.priority = z.priority
       and t.category = z.category and t.n = 0;
  end if;
  if zd is not null then
    delete from task_daily t where t.slot = s and t.day = any (zd) and t.created = 0 and t.completed = 0;
  end if;
  if bumped > 0 and current_setting('application_name') not like 'hive %' then
    perform pg_notify('hive_analytics', '');
  end if;
  return null;
end;
$$;
