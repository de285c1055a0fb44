-- Up Migration
-- Sessions end when the account changes. Every access token carries the token_version of its
-- user at login (claim `ver`); the server accepts it only while the row still has that
-- version, is active, and exists. The trigger moves the version whenever the password, the
-- role or the active flag changes, whoever makes the change (the API, psql, an import), so
-- deactivating, demoting, re-activating or a new password all retire every earlier token.
-- A deleted row retires its tokens by being gone. Presence writes (is_online, last_seen_at)
-- and name edits do not fire it: `update of` limits it to the three columns, and the WHEN
-- clause to real changes.
alter table users add column token_version integer not null default 0;

create function users__bump_token_version() returns trigger
language plpgsql as $$
begin
  new.token_version := old.token_version + 1;
  return new;
end;
$$;

create trigger _200_users_token_version
  before update of password_hash, role, is_active on users
  for each row
  when (old.password_hash is distinct from new.password_hash
        or old.role is distinct from new.role
        or old.is_active is distinct from new.is_active)
  execute function users__bump_token_version();
