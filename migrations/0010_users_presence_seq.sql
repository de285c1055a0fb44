-- Up Migration
-- The order of presence transitions. The presence store (Redis, or memory on a single
-- instance) decides every online/offline transition atomically and stamps it with a
-- sequence number from its own clock (microseconds, strictly increasing). Two instances then
-- write their transitions independently; an UPDATE only applies when its sequence is newer
-- than the row's, so a user who went offline through one instance and back online through
-- another a moment later can never end up offline because the writes crossed.
-- Server-owned like is_online: no route reads or writes it.
alter table users add column presence_seq bigint;
