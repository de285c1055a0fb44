-- Up Migration
-- Account changes, announced. Each instance keeps what it read about accounts (token_version,
-- role, is_active) to check tokens without a database round trip; these notifications on
-- channel hive_accounts keep that copy current on every instance, so a change made anywhere
-- (the API, psql, an import) reaches every token check within milliseconds, and a connect
-- storm of known users needs no account reads (src/modules/auth/accounts.ts, account-feed.ts).
--
-- Unlike the analytics notifications, the server's own sessions notify too: the other
-- instances must hear of a password change made through one of them. These are rare writes
-- (password, role, active flag, deletion), never presence or task writes, so the commit-time
-- lock a NOTIFY takes (see 0020) costs nothing on the hot paths. New accounts are not
-- announced: an instance that has not seen one reads it once, which a registration storm or a
-- million-row seed would otherwise turn into a notification per row.
--
-- Payloads: 'a:<id>:<token_version>:<role>:<1|0 active>' (changed), 'd:<id>' (deleted),
-- 'reset' (TRUNCATE, or more than 1,000 changes in one transaction: forget everything).
-- Instances also send 'hb:<instance>:<ms>' heartbeats on the channel to prove it delivers.
create function users__notify_account() returns trigger
language plpgsql as $$
declare
  n integer := coalesce(nullif(current_setting('hive.account_notices', true), ''), '0')::integer + 1;
begin
  perform set_config('hive.account_notices', n::text, true);
  if n > 1000 then
    -- Repeated identical payloads in one transaction are sent once.
    perform pg_notify('hive_accounts', 'reset');
  elsif tg_op = 'DELETE' then
    perform pg_notify('hive_accounts', 'd:' || old.id);
  else
    perform pg_notify('hive_accounts',
      'a:' || new.id || ':' || new.token_version || ':' || new.role || ':' || new.is_active::int);
  end if;
  return null;
end;
$$;

create function users__notify_accounts_reset() returns trigger
language plpgsql as $$
begin
  perform pg_notify('hive_accounts', 'reset');
  return null;
end;
$$;

-- token_version is listed too: an UPDATE that sets it directly bypasses the columns above.
create trigger _600_users_account_notify_update
  after update of password_hash, role, is_active, token_version on users
  for each row
  when (old.token_version is distinct from new.token_version
        or old.role is distinct from new.role
        or old.is_active is distinct from new.is_active)
  execute function users__notify_account();

create trigger _600_users_account_notify_delete
  after delete on users
  for each row
  execute function users__notify_account();

create trigger _600_users_account_notify_truncate
  after truncate on users
  for each statement
  execute function users__notify_accounts_reset();
