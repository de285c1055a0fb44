-- Up Migration
-- 1. The rule "the server's own sessions do not NOTIFY", named once on the SQL side.
--    A NOTIFYing transaction takes a global lock at commit (32 writers: 7,600 -> 2,200 tx/s),
--    so writes made by the server announce themselves on its event bus instead, and only
--    other sessions (psql, imports, `npm run analytics:rebuild`) NOTIFY. The server is
--    recognised by its application_name prefix: keep 'hive ' here equal to
--    SERVER_SESSION_PREFIX in src/db/bootstrap.ts (tests/integration/server-session.test.ts
--    fails when they drift, or when a function tests application_name itself again).
create function hive_is_server_session() returns boolean
language sql stable parallel safe as $$
  select current_setting('application_name') like 'hive %'
$$;

-- Every function that spelt the rule out (analytics__bump_version from 0004, and
-- tasks__count_changes from 0007 or whichever later migration last replaced it) now calls
-- the named function. Rewritten from its current definition rather than restated here, so
-- this migration cannot bring back an older version of a trigger function.
do $$
declare
  f record;
  spelt_out constant text := $r$current_setting('application_name') not like 'hive %'$r$;
begin
  for f in
    select p.oid from pg_proc p
     where p.pronamespace = current_schema()::regnamespace and position(spelt_out in p.prosrc) > 0
  loop
    execute replace(pg_get_functiondef(f.oid), spelt_out, 'not hive_is_server_session()');
  end loop;
  if exists (select from pg_proc p
              where p.pronamespace = current_schema()::regnamespace
                and p.proname <> 'hive_is_server_session'
                and p.prosrc like '%application_name%') then
    raise exception 'a function still reads application_name itself: make it call hive_is_server_session()';
  end if;
end;
$$;

-- 2. Superseded by 0007, which applies counts, days and the version in one statement:
--    nothing has called these since.
drop function task_counts__apply(text[], text[], text[], bigint[]);
drop function task_daily__apply(date[], bigint[], bigint[]);
