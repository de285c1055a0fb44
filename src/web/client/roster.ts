import type { Role, UserPublic, UserStatus } from '../../protocol/schemas';

/**
 * Who is online, as the Team Coordination panel shows it: the list from `GET /users/online`
 * merged with `user_status_update` frames. A frame that arrives while the list is in flight
 * is newer than the list's answer and wins over it. Pure (no DOM), unit-tested in
 * tests/unit/page-logic.test.ts.
 */

/** A person online; `role` is unknown until the list (frames do not carry it) says. */
export interface OnlinePerson {
  id: string;
  full_name: string;
  role?: Role;
  last_seen_at: string | null;
}

export class OnlineRoster {
  private people = new Map<string, OnlinePerson>();
  /** Online beyond the list's page (from X-Total-Count). */
  private more = 0;
  private listLoaded = false;
  /** Frames counted so far, and the latest frame per user with its number. */
  private seq = 0;
  private lastFrame = new Map<string, { seq: number; person: OnlinePerson | undefined }>();
  /** The mark of the list answer shown now: one asked for before it is older news. */
  private listMark = -1;

  get loaded(): boolean {
    return this.listLoaded;
  }

  get extra(): number {
    return this.more;
  }

  clear(): void {
    this.people.clear();
    this.lastFrame.clear();
    this.more = 0;
    this.listLoaded = false;
    this.listMark = -1;
  }

  /** Everyone online, by name. */
  sorted(): OnlinePerson[] {
    return [...this.people.values()].sort((a, b) => a.full_name.localeCompare(b.full_name));
  }

  /**
   * A presence frame. Returns 'joined' for someone not on the list yet (whose role only the
   * list can tell), 'online' for someone already there, 'left' when they went offline.
   */
  apply(status: UserStatus): 'joined' | 'online' | 'left' {
    this.seq += 1;
    const id = status.user_id;
    if (!status.is_online) {
      this.people.delete(id);
      this.lastFrame.set(id, { seq: this.seq, person: undefined });
      return 'left';
    }
    const known = this.people.get(id);
    const person: OnlinePerson = {
      id,
      full_name: status.full_name,
      role: known?.role,
      last_seen_at: status.last_seen_at,
    };
    this.people.set(id, person);
    this.lastFrame.set(id, { seq: this.seq, person });
    return known ? 'online' : 'joined';
  }

  /**
   * The number online in the whole team, from the server's count (large teams, where frames
   * come only for the people listed): whoever is not listed is "more".
   */
  setOnlineTotal(online: number): void {
    this.more = Math.max(0, online - this.people.size);
  }

  /** Ids of the people listed. */
  ids(): string[] {
    return [...this.people.keys()];
  }

  /** Call before asking for the list; pass the mark to `replace` with its answer. */
  mark(): number {
    return this.seq;
  }

  /**
   * The list's answer, asked for at `mark`; frames seen since then are applied over it. Two
   * lists in flight may answer out of order (the one asked for when the socket opened, after
   * the re-read a newcomer's frame asked for): the older one is dropped, or it would undo
   * the newer, e.g. take away the role of someone who arrived in between.
   */
  replace(users: UserPublic[], total: number, mark: number): void {
    if (mark < this.listMark) return;
    this.listMark = mark;
    const next = new Map<string, OnlinePerson>(users.filter((u) => u.is_online).map((u) => [u.id, u]));
    for (const [id, frame] of this.lastFrame) {
      if (frame.seq <= mark) continue;
      if (frame.person) next.set(id, { ...frame.person, role: next.get(id)?.role ?? frame.person.role });
      else next.delete(id);
    }
    this.people = next;
    this.more = Math.max(0, total - users.length);
    this.listLoaded = true;
  }
}
