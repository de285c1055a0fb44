-- Up Migration
-- Keep user_counts (active_users, online_users) exact, the same way as the task cube.
-- Most user writes (last_seen_at, names, passwords) change neither flag: they net to zero
-- and touch nothing.

create function users__count_changes() returns trigger
language plpgsql as $$
declare
  da bigint;
  dn bigint;
begin
  if tg_op = 'INSERT' then
    select count(*) filter (where is_active), count(*) filter (where is_online)
      from new_rows into da, dn;
  elsif tg_op = 'DELETE' then
    select -count(*) filter (where is_active), -count(*) filter (where is_online)
      from old_rows into da, dn;
  else
    select (select count(*) filter (where is_active) from new_rows) - (select count(*) filter (where is_active) from old_rows),
           (select count(*) filter (where is_online) from new_rows) - (select count(*) filter (where is_online) from old_rows)
      into da, dn;
  end if;
  if da <> 0 or dn <> 0 then
    update user_counts set active = active + da, online = online + dn where id;
    perform analytics__bump_version(false);
  end if;
  return null;
end;
$$;

create function users__count_truncate() returns trigger
language plpgsql as $$
begin
  update user_counts set active = 0, online = 0 where id;
  perform analytics__bump_version(false);
  return null;
end;
$$;

create trigger _500_users_count_insert
  after insert on users referencing new table as new_rows
  for each statement execute function users__count_changes();
create trigger _500_users_count_update
  after update on users referencing old table as old_rows new table as new_rows
  for each statement execute function users__count_changes();
create trigger _500_users_count_delete
  after delete on users referencing old table as old_rows
  for each statement execute function users__count_changes();
create trigger _500_users_count_truncate
  after truncate on users
  for each statement execute function users__count_truncate();
