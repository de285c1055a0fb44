import type { ServerFrameData } from '../../protocol/frames';
import type { Task, UserStatus } from '../../protocol/schemas';
import { fetchOnline, UnauthorizedError } from './api';
import { byId, type Child, h, replace, show } from './dom';
import { fmt, initials, relativeTime, timeOfDay } from './format';
import { labelFor } from './labels';
import { type OnlinePerson, OnlineRoster } from './roster';
import type { Session } from './session';

/**
 * Team Coordination for a signed-in user: who is online (GET /users/online, then
 * `user_status_update` frames) and the live activity feed of arrivals and task changes.
 */

interface ActivityItem {
  at: Date;
  kind: 'online' | 'offline' | 'task';
  parts: Child[];
}

const ACTIVITY_ITEMS = 8;
/** A newcomer's role is only in the list: ask for it shortly after, once for a burst of arrivals. */
const ROLE_REFRESH_MS = 300;
/**
 * Above the presence threshold, arrivals of people not listed come only as a count: re-read
 * the list this long after the count moves, so newcomers show up without a request per change.
 */
const LARGE_TEAM_REFRESH_MS = 10_000;

export interface TeamHooks {
  /** The current session, if any. */
  session(): Session | undefined;
  /** The server no longer accepts the token. */
  unauthorized(): void;
  /** The list was (re)loaded: these are the people shown (the page follows their presence). */
  listed(userIds: string[]): void;
}

export class TeamPanel {
  private readonly roster = new OnlineRoster();
  private activity: ActivityItem[] = [];
  /** Titles of tasks seen in frames, so a deletion (which carries only the id) can name its task. */
  private readonly taskTitles = new Map<string, string>();
  private refreshTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(private readonly hooks: TeamHooks) {}

  /** A new session, or none: forget the last one's people and activity. */
  reset(): void {
    this.roster.clear();
    this.activity = [];
  }

  async refreshOnline(): Promise<void> {
    const session = this.hooks.session();
    if (!session) return;
    const mark = this.roster.mark();
    try {
      const { users, total } = await fetchOnline(session.token);
      if (this.hooks.session() !== session) return;
      this.roster.replace(users, total, mark);
      this.render();
      this.hooks.listed(this.roster.ids());
    } catch (err) {
      if (err instanceof UnauthorizedError) this.hooks.unauthorized();
    }
  }

  presence(status: UserStatus): void {
    this.presenceBatch([status]);
  }

  /** Changes from a `user_status_update` or a `presence_batch`, drawn once. */
  presenceBatch(statuses: UserStatus[]): void {
    for (const status of statuses) {
      const change = this.roster.apply(status);
      if (change === 'joined') this.scheduleRefresh();
      const name = h('strong', null, status.full_name);
      if (change === 'left') this.addActivity('offline', name, ' went offline');
      else this.addActivity('online', name, ' came online');
    }
    this.render();
  }

  /**
   * `presence_subscribed`: the current state of the people followed (not news: no activity).
   * It can be the first to say we are online (it reads the database, which may be ahead of
   * our own frame): someone new to the list gets their role from a re-read, as from a frame.
   */
  presenceSnapshot(statuses: UserStatus[]): void {
    for (const status of statuses) if (this.roster.apply(status) === 'joined') this.scheduleRefresh();
    this.render();
  }

  /** The team-wide online count (large teams); newcomers join the list at the next re-read. */
  onlineTotal(online: number): void {
    this.roster.setOnlineTotal(online);
    this.render();
    this.scheduleRefresh(LARGE_TEAM_REFRESH_MS);
  }

  taskChanged(type: 'task_created' | 'task_updated', { task }: ServerFrameData['task_created']): void {
    this.taskTitles.set(task.id, task.title);
    if (type === 'task_created') {
      this.addActivity('task', 'New task ', h('strong', null, task.title), ' in ', task.category);
    } else {
      this.addActivity('task', h('strong', null, task.title), ' is now ', statusText(task));
    }
    this.render();
  }

  taskDeleted({ id }: ServerFrameData['task_deleted']): void {
    const title = this.taskTitles.get(id);
    this.addActivity('task', 'Deleted ', title ? h('strong', null, title) : 'a task');
    this.render();
  }

  render(): void {
    const session = this.hooks.session();
    const count = byId('online-count');
    if (!session) {
      show(count, false);
      return;
    }
    const people = this.roster.sorted();
    const list = byId('online-list');
    replace(list, ...people.map((person) => personItem(person, person.id === session.me?.id)));
    if (this.roster.extra > 0)
      list.append(h('li', { class: 'more muted' }, `and ${fmt(this.roster.extra)} more`));
    const onlineEmpty = byId('online-empty');
    onlineEmpty.textContent = this.roster.loaded ? 'Nobody is online right now.' : 'Loading who is online…';
    show(onlineEmpty, people.length === 0);
    count.textContent = `${fmt(people.length + this.roster.extra)} online`;
    show(count, this.roster.loaded);

    replace(
      byId('activity'),
      ...this.activity.map((a) =>
        h(
          'li',
          { class: `activity-item activity-${a.kind}` },
          h('time', null, timeOfDay(a.at)),
          h('span', null, ...a.parts),
        ),
      ),
    );
    show(byId('activity-empty'), this.activity.length === 0);
  }

  private addActivity(kind: ActivityItem['kind'], ...parts: Child[]): void {
    this.activity.unshift({ at: new Date(), kind, parts });
    this.activity.length = Math.min(this.activity.length, ACTIVITY_ITEMS);
  }

  private scheduleRefresh(delayMs = ROLE_REFRESH_MS): void {
    if (this.refreshTimer !== undefined) return;
    this.refreshTimer = setTimeout(() => {
      this.refreshTimer = undefined;
      void this.refreshOnline();
    }, delayMs);
  }
}

const statusText = (task: Task): string => labelFor('status', task.status).toLowerCase();

function personItem(person: OnlinePerson, isMe: boolean): HTMLLIElement {
  return h(
    'li',
    { class: 'person', attrs: { 'data-user-id': person.id } },
    h('span', { class: 'avatar', attrs: { 'aria-hidden': 'true' } }, initials(person.full_name)),
    h(
      'span',
      { class: 'person-main' },
      h(
        'span',
        { class: 'person-name' },
        person.full_name,
        isMe ? h('span', { class: 'you' }, ' (you)') : null,
      ),
      h(
        'span',
        { class: 'person-sub' },
        person.role
          ? h('span', { class: `role role-${person.role === 'admin' ? 'admin' : 'member'}` }, person.role)
          : null,
        h('span', { class: 'since' }, `online · ${relativeTime(person.last_seen_at)}`),
      ),
    ),
    h('span', { class: 'presence-dot', attrs: { title: 'online' } }),
  );
}
