-- Up Migration
-- Dashboard analytics: aggregates of `tasks` and `users` kept exact by statement-level
-- triggers (0004, 0005), so the dashboard reads a few hundred rows instead of scanning
-- tasks. This is the card's "materialized view of task counts refreshed by triggers",
-- maintained incrementally: a write applies its own delta instead of recomputing.
--
-- Hot rows: every transaction that touches the same key waits on that row's lock until it
-- commits (including its WAL flush). Measured here (fsync on, 32 clients): ~2,000 tx/s on
-- one row vs ~10,800 tx/s spread over many. So each key is spread over `slot`s
-- (pg_backend_pid() % 16: stable within a transaction, so its locks are taken in one
-- order) and readers sum the slots. analytics_fold() folds the slots back into slot 0 now
-- and then, which keeps reads small. A slot row may be negative (a task counted in slot 3
-- and deleted from slot 5); only the sum over slots is meaningful. Rows at zero are removed.

create table task_counts (
  status   text     not null,
  priority text     not null,
  category text     not null,
  slot     smallint not null default 0,
  n        bigint   not null,
  constraint task_counts_pkey primary key (status, priority, category, slot)
);

-- Trends: tasks created and completed per UTC day (completion by completed_at).
create table task_daily (
  day       date     not null,
  slot      smallint not null default 0,
  created   bigint   not null default 0,
  completed bigint   not null default 0,
  constraint task_daily_pkey primary key (day, slot)
);

-- active_users and online_users without scanning users. One row: user writes are rare
-- and presence writes are batched, so this row is not hot.
create table user_counts (
  id     boolean primary key default true,
  active bigint  not null default 0,
  online bigint  not null default 0,
  constraint user_counts_one_row check (id)
);
insert into user_counts (id) values (true);

-- A change counter, committed with the data it describes: sum(v) over the slots grows with
-- every committed change to the aggregates, and a reader that takes it in the same
-- snapshot as the aggregates gets a version that names exactly that state (the summary's
-- ETag and its cache key, in memory and in Redis). Slotted like the cube, for the same reason.
create table analytics_version (
  slot smallint primary key,
  v    bigint not null default 0
);
