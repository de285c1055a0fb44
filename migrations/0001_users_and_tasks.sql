-- Up Migration
-- Accounts and the shared task board. Status, priority and role are text with CHECK
-- constraints rather than enum types: adding a value is then one ALTER of a constraint,
-- with no enum-in-transaction restrictions.

create table users (
  id            uuid primary key default gen_random_uuid(),
  email         text not null,
  password_hash text not null,
  full_name     text not null,
  role          text not null default 'member',
  is_active     boolean not null default true,
  created_at    timestamptz not null default now(),
  updated_at    timestamptz not null default now(),
  constraint users_email_check check (email = lower(email) and char_length(email) between 3 and 254),
  constraint users_full_name_check check (char_length(full_name) between 1 and 100),
  constraint users_role_check check (role in ('admin', 'member'))
);
-- Emails are stored lower-cased; the index on lower() keeps them unique without regard to
-- case even for rows written from psql.
create unique index users_email_key on users (lower(email));

create table tasks (
  id           uuid primary key default gen_random_uuid(),
  title        text not null,
  description  text,
  status       text not null default 'todo',
  priority     text not null default 'medium',
  category     text not null default 'general',
  assignee_id  uuid,
  created_by   uuid,
  due_date     timestamptz,
  created_at   timestamptz not null default now(),
  updated_at   timestamptz not null default now(),
  completed_at timestamptz,
  constraint tasks_title_check check (char_length(title) between 1 and 200),
  constraint tasks_description_check check (description is null or char_length(description) <= 10000),
  constraint tasks_status_check check (status in ('todo', 'in_progress', 'review', 'completed', 'cancelled')),
  constraint tasks_priority_check check (priority in ('low', 'medium', 'high', 'urgent')),
  constraint tasks_category_check check (char_length(category) between 1 and 50),
  constraint tasks_assignee_fkey foreign key (assignee_id) references users (id) on delete set null,
  constraint tasks_created_by_fkey foreign key (created_by) references users (id) on delete set null
);

-- One index per filter the API offers, each ending in the list order (created_at desc, id)
-- so a filtered page is an index range scan.
create index tasks_created_at_idx on tasks (created_at desc, id desc);
create index tasks_status_idx on tasks (status, created_at desc, id desc);
create index tasks_priority_idx on tasks (priority, created_at desc, id desc);
create index tasks_category_idx on tasks (category, created_at desc, id desc);
create index tasks_assignee_idx on tasks (assignee_id, created_at desc, id desc);
create index tasks_created_by_idx on tasks (created_by);

-- Server-owned columns are kept by triggers, so writes made in psql follow the same rules
-- as the API: completed_at is set on entering 'completed' and cleared on leaving it;
-- updated_at moves on every update.
create function tasks__set_server_columns() returns trigger
language plpgsql as $$
begin
  if tg_op = 'INSERT' then
    if new.status = 'completed' then
      new.completed_at := coalesce(new.completed_at, now());
    else
      new.completed_at := null;
    end if;
  else
    new.updated_at := now();
    if new.status = 'completed' and old.status <> 'completed' then
      new.completed_at := now();
    elsif new.status <> 'completed' then
      new.completed_at := null;
    end if;
  end if;
  return new;
end;
$$;

create trigger _100_tasks_server_columns
  before insert or update on tasks
  for each row execute function tasks__set_server_columns();

create function users__touch_updated_at() returns trigger
language plpgsql as $$
begin
  new.updated_at := now();
  return new;
end;
$$;

create trigger _100_users_updated_at
  before update on users
  for each row execute function users__touch_updated_at();
