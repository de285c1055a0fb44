-- Up Migration
-- Presence columns, in their own migration. They are server-owned: only the presence
-- service writes them (src/modules/users/service.ts, setUsersOnlineStatus).
alter table users
  add column is_online    boolean not null default false,
  add column last_seen_at timestamptz;

-- GET /users/online lists online users ordered by full_name: a partial index holds only
-- those rows, in that order, so a page of 100 out of 10,000 online is a short range scan.
create index users_online_name_idx on users (full_name, id) where is_online;
