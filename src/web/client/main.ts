import {
  type Filters,
  fetchMe,
  fetchOnline,
  fetchSummary,
  fetchTrends,
  login,
  RequestError,
  type Summary,
  type Task,
  type TrendDay,
  UnauthorizedError,
  UnreachableError,
  type UserPrivate,
  type UserPublic,
} from './api';
import { type BarRow, barList, trendChart } from './charts';
import { byId, type Child, fmt, h, percent, relativeTime, replace, show, timeOfDay } from './dom';
import { type LiveConnection as Live, LiveConnection, type LiveFrame, type LiveState } from './live';

/**
 * The dashboard: Collective Impact from the public summary (polled with If-None-Match until
 * the user signs in, then pushed over the WebSocket), Team Coordination from /users/online
 * plus `user_status_update` frames. Every server string reaches the DOM as a text node.
 */

const POLL_MS = 5_000;
const SESSION_KEY = 'hive.session';
const DIMENSIONS = ['status', 'priority', 'category'] as const;
type Dimension = (typeof DIMENSIONS)[number];

const STATUS_LABELS: Record<string, string> = {
  todo: 'To do',
  in_progress: 'In progress',
  review: 'Review',
  completed: 'Completed',
  cancelled: 'Cancelled',
};
const PRIORITY_LABELS: Record<string, string> = {
  low: 'Low',
  medium: 'Medium',
  high: 'High',
  urgent: 'Urgent',
};
const CATEGORY_BARS = 8;
const CATEGORY_CHIPS = 12;

interface Session {
  token: string;
  expiresAt: number;
  me?: UserPrivate;
}

interface ActivityItem {
  at: Date;
  kind: string;
  parts: Child[];
}

const state = {
  filters: {} as Filters,
  summary: undefined as Summary | undefined,
  facets: {} as Partial<Record<Dimension, Summary>>,
  updatedAt: undefined as Date | undefined,
  unreachable: false,
  requestProblem: undefined as string | undefined,
  trends: undefined as TrendDay[] | undefined,
  trendsProblem: undefined as string | undefined,
  session: undefined as Session | undefined,
  loginNote: undefined as string | undefined,
  liveState: undefined as LiveState | undefined,
  liveAttempt: 0,
  online: new Map<string, UserPublic>(),
  onlineExtra: 0,
  onlineLoaded: false,
  activity: [] as ActivityItem[],
};

let live: Live | undefined;
let expiryTimer: ReturnType<typeof setTimeout> | undefined;

// ---------------------------------------------------------------------------------------------
// Collective Impact

const labelFor = (dimension: Dimension, key: string): string =>
  dimension === 'status'
    ? (STATUS_LABELS[key] ?? key)
    : dimension === 'priority'
      ? (PRIORITY_LABELS[key] ?? key)
      : key;

function countsOf(summary: Summary | undefined, dimension: Dimension): Record<string, number> {
  if (!summary) return {};
  const counts =
    dimension === 'status'
      ? summary.tasks_by_status
      : dimension === 'priority'
        ? summary.tasks_by_priority
        : summary.tasks_by_category;
  return counts ?? {};
}

/** Known keys first in their natural order, then anything new the server sends. */
function orderedKeys(dimension: Dimension, counts: Record<string, number>): string[] {
  if (dimension === 'category') {
    return Object.keys(counts).sort((a, b) => (counts[b] ?? 0) - (counts[a] ?? 0) || a.localeCompare(b));
  }
  const known = Object.keys(dimension === 'status' ? STATUS_LABELS : PRIORITY_LABELS);
  return [...known, ...Object.keys(counts).filter((k) => !known.includes(k))];
}

let refreshing: Promise<void> | undefined;
let refreshAgain = false;

/** Fetch the filtered summary plus, per active filter, the summary without it (the chip counts). */
function refreshSummary(): void {
  if (refreshing) {
    refreshAgain = true;
    return;
  }
  refreshing = loadSummaries().finally(() => {
    refreshing = undefined;
    if (refreshAgain) {
      refreshAgain = false;
      refreshSummary();
    }
  });
}

async function loadSummaries(): Promise<void> {
  const filters = { ...state.filters };
  const active = DIMENSIONS.filter((d) => filters[d] !== undefined);
  try {
    const [main, ...others] = await Promise.all([
      fetchSummary(filters),
      ...active.map((d) => fetchSummary({ ...filters, [d]: undefined })),
    ]);
    if (DIMENSIONS.some((d) => filters[d] !== state.filters[d])) return; // superseded by a click
    const facets: Partial<Record<Dimension, Summary>> = {};
    for (const d of DIMENSIONS) facets[d] = main!.summary;
    active.forEach((d, i) => {
      facets[d] = others[i]!.summary;
    });
    // A 304 still changes what is shown when the filters changed since the last render.
    const changed =
      main!.changed ||
      others.some((r) => r.changed) ||
      state.unreachable ||
      state.summary !== main!.summary ||
      DIMENSIONS.some((d) => state.facets[d] !== facets[d]);
    state.summary = main!.summary;
    state.facets = facets;
    state.requestProblem = undefined;
    if (changed || !state.updatedAt) state.updatedAt = new Date();
    setReachable(true);
    if (changed) {
      renderImpact();
      scheduleTrends();
    }
  } catch (err) {
    handleImpactError(err);
  }
}

function handleImpactError(err: unknown): void {
  if (err instanceof UnreachableError) {
    setReachable(false, err.message);
  } else if (err instanceof RequestError) {
    state.requestProblem =
      err.status === 404
        ? 'The dashboard summary is not available on this server yet.'
        : `The server refused the request: ${err.message}`;
    renderImpact();
  } else {
    state.requestProblem = 'Something went wrong while reading the dashboard.';
    renderImpact();
    console.warn(err);
  }
}

/** A summary pushed over the WebSocket is the unfiltered one: use it directly only without filters. */
function applyPushedSummary(summary: Summary): void {
  cancelFallbackRefresh();
  const previous = state.facets.status ?? state.summary;
  if (DIMENSIONS.some((d) => state.filters[d] !== undefined)) {
    refreshSummary();
  } else {
    state.summary = summary;
    state.facets = { status: summary, priority: summary, category: summary };
    state.updatedAt = new Date();
    renderImpact();
  }
  // Presence-only pushes leave the trend alone; task frames schedule it themselves too.
  if (
    previous?.total_tasks !== summary.total_tasks ||
    previous?.completed_tasks !== summary.completed_tasks
  ) {
    scheduleTrends();
  }
}

let trendTimer: ReturnType<typeof setTimeout> | undefined;
let trendsLoading = false;

/** Trends change with tasks; refetch at most about once a second after a change. */
function scheduleTrends(delayMs = 1_000): void {
  if (trendTimer !== undefined) return;
  trendTimer = setTimeout(async () => {
    trendTimer = undefined;
    if (trendsLoading) return scheduleTrends(delayMs);
    trendsLoading = true;
    try {
      state.trends = await fetchTrends(30);
      state.trendsProblem = undefined;
    } catch (err) {
      if (err instanceof RequestError && err.status === 404) {
        state.trendsProblem = 'The trend is not available on this server yet.';
      } else if (!state.trends) {
        state.trendsProblem = 'The trend could not be loaded; retrying.';
      }
    } finally {
      trendsLoading = false;
    }
    renderTrend();
  }, delayMs);
}

// Without a pushed summary soon after a task frame (e.g. frames lost), ask for one.
let fallbackTimer: ReturnType<typeof setTimeout> | undefined;
function scheduleFallbackRefresh(): void {
  if (fallbackTimer !== undefined) return;
  fallbackTimer = setTimeout(() => {
    fallbackTimer = undefined;
    refreshSummary();
  }, 1_500);
}
function cancelFallbackRefresh(): void {
  clearTimeout(fallbackTimer);
  fallbackTimer = undefined;
}

function setReachable(reachable: boolean, message?: string): void {
  const was = state.unreachable;
  state.unreachable = !reachable;
  if (!reachable) {
    const banner = byId('banner');
    replace(
      banner,
      h('strong', null, 'Cannot reach the HIVE server. '),
      message && message !== 'The server cannot be reached.' ? `${message} ` : '',
      state.summary && state.updatedAt
        ? `Showing the figures from ${timeOfDay(state.updatedAt)}; retrying every ${POLL_MS / 1000} s.`
        : `Retrying every ${POLL_MS / 1000} s.`,
    );
    banner.dataset.kind = 'error';
    show(banner, true);
  } else if (was) {
    show(byId('banner'), false);
  }
  if (was !== state.unreachable) {
    renderImpact();
    renderConnection();
  }
}

function setKpi(id: string, value: string, foot: string): void {
  byId(`kpi-${id}`).textContent = value;
  byId(`kpi-${id}-foot`).textContent = foot;
}

function renderImpact(): void {
  const stateBox = byId('impact-state');
  const body = byId('impact-body');
  const s = state.summary;
  if (!s) {
    show(body, false);
    show(stateBox, true);
    const [kind, text] = state.unreachable
      ? ['error', 'Cannot reach the server. The dashboard will appear as soon as it answers.']
      : state.requestProblem
        ? ['error', state.requestProblem]
        : ['loading', 'Loading dashboard…'];
    stateBox.dataset.state = kind;
    byId('impact-state-text').textContent = text;
    return;
  }
  show(stateBox, false);
  show(body, true);
  body.classList.toggle('stale', state.unreachable);
  byId('updated').textContent = state.updatedAt ? `Updated ${timeOfDay(state.updatedAt)}` : '';

  const filtered = DIMENSIONS.some((d) => state.filters[d] !== undefined);
  setKpi('total', fmt(s.total_tasks), filtered ? 'matching the filters' : 'all tasks');
  setKpi('completed', fmt(s.completed_tasks), `${fmt(s.total_tasks - s.completed_tasks)} not completed`);
  setKpi('rate', percent(s.completion_rate), '');
  const rateFoot = byId('kpi-rate-foot');
  const meter = h('span', { class: 'meter-fill' });
  meter.style.width = `${Math.max(0, Math.min(1, s.completion_rate || 0)) * 100}%`;
  replace(rateFoot, h('span', { class: 'meter' }, meter));
  setKpi('active', fmt(s.active_users), 'accounts');
  setKpi('online', fmt(s.online_users), s.online_users === 1 ? 'person connected' : 'people connected');

  const note = byId('impact-note');
  if (state.requestProblem) {
    note.textContent = state.requestProblem;
    note.dataset.kind = 'error';
    show(note, true);
  } else if (s.total_tasks === 0) {
    note.textContent = filtered
      ? 'No tasks match these filters.'
      : 'No tasks yet. Tasks created through the API (POST /api/v1/tasks) appear here as soon as they are saved.';
    note.dataset.kind = 'empty';
    show(note, true);
  } else {
    show(note, false);
  }

  renderFilters();
  const chart = (dimension: Dimension, container: string, tone: (key: string) => string, limit?: number) => {
    const counts = countsOf(s, dimension);
    let keys = orderedKeys(dimension, counts);
    let rows: BarRow[] = keys.map((key) => ({
      key,
      label: labelFor(dimension, key),
      value: counts[key] ?? 0,
      tone: tone(key),
    }));
    if (limit !== undefined && rows.length > limit) {
      const rest = rows.slice(limit - 1);
      rows = rows.slice(0, limit - 1);
      rows.push({
        key: '',
        label: `Other (${rest.length})`,
        value: rest.reduce((sum, r) => sum + r.value, 0),
        tone: 'tone-other',
      });
      keys = keys.slice(0, limit - 1);
    }
    const el = byId(container);
    if (rows.length === 0) replace(el, h('p', { class: 'muted' }, 'No tasks.'));
    else replace(el, barList(rows, s.total_tasks, dimension));
  };
  chart('status', 'chart-status', (k) => `tone-${k in STATUS_LABELS ? k : 'other'}`);
  chart('priority', 'chart-priority', (k) => `tone-${k in PRIORITY_LABELS ? k : 'other'}`);
  chart('category', 'chart-category', () => 'tone-category', CATEGORY_BARS);
}

function renderFilters(): void {
  const container = byId('filters');
  // Chips are rebuilt on every update; keep keyboard focus on the chip that had it.
  const focused = document.activeElement instanceof HTMLElement ? document.activeElement : null;
  const focusKey = container.contains(focused)
    ? `${focused?.dataset.dimension}\u0000${focused?.dataset.key}`
    : null;
  const groups: HTMLElement[] = [];
  for (const dimension of DIMENSIONS) {
    const counts = countsOf(state.facets[dimension] ?? state.summary, dimension);
    const selected = state.filters[dimension];
    let keys = orderedKeys(dimension, counts);
    if (dimension === 'category') {
      keys = keys.slice(0, CATEGORY_CHIPS);
      if (selected !== undefined && !keys.includes(selected)) keys.push(selected);
    }
    const chips = keys.map((key) => {
      const pressed = selected === key;
      const chip = h(
        'button',
        {
          class: 'chip',
          attrs: {
            type: 'button',
            'aria-pressed': String(pressed),
            'data-dimension': dimension,
            'data-key': key,
          },
        },
        h('span', { class: 'chip-label' }, labelFor(dimension, key)),
        h('span', { class: 'chip-count' }, fmt(counts[key] ?? 0)),
      );
      chip.addEventListener('click', () => toggleFilter(dimension, key));
      return chip;
    });
    groups.push(
      h(
        'div',
        { class: 'filter-group', attrs: { role: 'group', 'aria-label': `Filter by ${dimension}` } },
        h('span', { class: 'filter-name' }, dimension[0]!.toUpperCase() + dimension.slice(1)),
        h('div', { class: 'chips' }, ...chips),
      ),
    );
  }
  replace(container, ...groups);
  if (focusKey !== null) {
    for (const chip of container.querySelectorAll<HTMLElement>('.chip')) {
      if (`${chip.dataset.dimension}\u0000${chip.dataset.key}` === focusKey) chip.focus();
    }
  }
  show(
    byId('clear-filters'),
    DIMENSIONS.some((d) => state.filters[d] !== undefined),
  );
}

function toggleFilter(dimension: Dimension, key: string): void {
  state.filters = { ...state.filters, [dimension]: state.filters[dimension] === key ? undefined : key };
  renderFilters(); // show the pressed chip at once; figures follow when the summary answers
  refreshSummary();
}

function renderTrend(): void {
  const container = byId('trend');
  const legend = byId('trend-legend');
  const days = state.trends;
  if (!days) {
    replace(container, h('p', { class: 'muted' }, state.trendsProblem ?? 'Loading trend…'));
    replace(legend);
    return;
  }
  const created = days.reduce((n, d) => n + d.created, 0);
  const completed = days.reduce((n, d) => n + d.completed, 0);
  replace(
    legend,
    h('span', { class: 'key key-created' }, 'Created ', h('strong', null, fmt(created))),
    h('span', { class: 'key key-completed' }, 'Completed ', h('strong', null, fmt(completed))),
  );
  replace(container, trendChart(days, Math.max(280, Math.floor(container.clientWidth || 720))));
}

// ---------------------------------------------------------------------------------------------
// Team Coordination

function saveSession(session: Session | undefined): void {
  try {
    if (session) {
      sessionStorage.setItem(
        SESSION_KEY,
        JSON.stringify({ token: session.token, expiresAt: session.expiresAt }),
      );
    } else {
      sessionStorage.removeItem(SESSION_KEY);
    }
  } catch {
    // storage disabled: the session lasts as long as the page
  }
}

function loadSession(): Session | undefined {
  try {
    const raw = sessionStorage.getItem(SESSION_KEY);
    if (!raw) return undefined;
    const parsed = JSON.parse(raw) as Session;
    return typeof parsed.token === 'string' && typeof parsed.expiresAt === 'number' ? parsed : undefined;
  } catch {
    return undefined;
  }
}

async function beginSession(session: Session): Promise<void> {
  live?.stop();
  live = undefined;
  state.session = session;
  state.loginNote = undefined;
  state.online.clear();
  state.onlineLoaded = false;
  state.activity = [];
  saveSession(session);
  scheduleExpiry(session);
  renderTeam();
  try {
    session.me = await fetchMe(session.token);
  } catch (err) {
    if (err instanceof UnauthorizedError) return endSession('expired');
    // Unreachable: carry on, the socket retries and the name fills in later.
  }
  if (state.session !== session) return;
  renderTeam();
  live = new LiveConnection(session.token, {
    onFrame: handleFrame,
    onState(liveState, detail) {
      state.liveState = liveState;
      state.liveAttempt = detail.attempt;
      if (liveState === 'open') {
        void refreshOnline();
        refreshSummary();
        if (!session.me) void fillInName(session);
      }
      renderConnection();
    },
    async onRefused() {
      // The server refuses an expired or forged token with 401 before the upgrade; a browser
      // only sees a closed socket, so ask the API which it was.
      try {
        await fetchMe(session.token);
        return 'retry';
      } catch (err) {
        if (err instanceof UnauthorizedError) {
          endSession('expired');
          return 'stop';
        }
        return 'retry';
      }
    },
  });
  live.start();
}

/** Back to the login form when the token runs out (setTimeout caps at ~24.8 days, so re-arm). */
function scheduleExpiry(session: Session): void {
  clearTimeout(expiryTimer);
  const left = session.expiresAt - Date.now();
  expiryTimer = setTimeout(
    () => {
      if (state.session !== session) return;
      if (Date.now() >= session.expiresAt) endSession('expired');
      else scheduleExpiry(session);
    },
    Math.max(0, Math.min(left, 2 ** 31 - 1)),
  );
}

async function fillInName(session: Session): Promise<void> {
  try {
    session.me = await fetchMe(session.token);
    renderTeam();
  } catch {
    // the next reconnect tries again
  }
}

function endSession(reason: 'expired' | 'signed_out'): void {
  clearTimeout(expiryTimer);
  live?.stop();
  live = undefined;
  state.session = undefined;
  state.liveState = undefined;
  state.online.clear();
  state.onlineLoaded = false;
  lastFrame.clear();
  saveSession(undefined);
  state.loginNote =
    reason === 'expired' ? 'Your session has expired. Sign in again to see who is online.' : undefined;
  renderTeam();
  renderConnection();
  if (reason === 'expired') byId<HTMLInputElement>('login-password').value = '';
}

// Frames that arrive while /users/online is in flight win over its (older) answer.
let frameSeq = 0;
const lastFrame = new Map<string, { seq: number; user: UserPublic | undefined }>();

async function refreshOnline(): Promise<void> {
  const session = state.session;
  if (!session) return;
  const startedAt = frameSeq;
  try {
    const { users, total } = await fetchOnline(session.token);
    if (state.session !== session) return;
    const next = new Map(users.filter((u) => u.is_online).map((u) => [u.id, u]));
    for (const [id, frame] of lastFrame) {
      if (frame.seq <= startedAt) continue;
      if (frame.user) next.set(id, { ...frame.user, role: next.get(id)?.role || frame.user.role });
      else next.delete(id);
    }
    state.online = next;
    state.onlineExtra = Math.max(0, total - users.length);
    state.onlineLoaded = true;
    renderTeam();
  } catch (err) {
    if (err instanceof UnauthorizedError) endSession('expired');
  }
}

let onlineTimer: ReturnType<typeof setTimeout> | undefined;
function scheduleOnlineRefresh(): void {
  if (onlineTimer !== undefined) return;
  onlineTimer = setTimeout(() => {
    onlineTimer = undefined;
    void refreshOnline();
  }, 300);
}

const taskTitles = new Map<string, string>();

function addActivity(kind: string, ...parts: Child[]): void {
  state.activity.unshift({ at: new Date(), kind, parts });
  state.activity.length = Math.min(state.activity.length, 8);
}

function handleFrame(frame: LiveFrame): void {
  const data = ('data' in frame && frame.data ? frame.data : {}) as Record<string, unknown>;
  switch (frame.type) {
    case 'dashboard_summary':
      if (data.summary && typeof data.summary === 'object') applyPushedSummary(data.summary as Summary);
      break;
    case 'user_status_update': {
      const id = String(data.user_id ?? '');
      if (!id) break;
      const name = String(data.full_name ?? 'Someone');
      frameSeq += 1;
      if (data.is_online === true) {
        const known = state.online.get(id);
        const user: UserPublic = {
          id,
          full_name: name,
          role: known?.role ?? '',
          is_online: true,
          last_seen_at: (data.last_seen_at as string | null) ?? null,
        };
        state.online.set(id, user);
        lastFrame.set(id, { seq: frameSeq, user });
        if (!known) scheduleOnlineRefresh(); // the frame has no role; the list does
        addActivity('online', h('strong', null, name), ' came online');
      } else {
        state.online.delete(id);
        lastFrame.set(id, { seq: frameSeq, user: undefined });
        addActivity('offline', h('strong', null, name), ' went offline');
      }
      scheduleFallbackRefresh(); // "online now" changes too; normally a pushed summary follows
      renderTeam();
      break;
    }
    case 'task_created':
    case 'task_updated': {
      const task = data.task as Task | undefined;
      if (!task || typeof task !== 'object') break;
      const previous = taskTitles.get(task.id);
      taskTitles.set(task.id, String(task.title));
      if (frame.type === 'task_created') {
        addActivity(
          'task',
          'New task ',
          h('strong', null, String(task.title)),
          ' in ',
          String(task.category),
        );
      } else {
        addActivity(
          'task',
          h('strong', null, String(task.title ?? previous)),
          ' is now ',
          labelFor('status', String(task.status)).toLowerCase(),
        );
      }
      scheduleTrends();
      scheduleFallbackRefresh();
      renderTeam();
      break;
    }
    case 'task_deleted': {
      const title = taskTitles.get(String(data.id));
      addActivity('task', 'Deleted ', title ? h('strong', null, title) : 'a task');
      scheduleTrends();
      scheduleFallbackRefresh();
      renderTeam();
      break;
    }
    default:
      break; // unknown frames are ignored: the server may add new ones
  }
}

function initials(name: string): string {
  const parts = name.trim().split(/\s+/).filter(Boolean);
  const letters = parts.length > 1 ? [parts[0]![0], parts[parts.length - 1]![0]] : [parts[0]?.[0]];
  return letters.join('').toUpperCase() || '?';
}

function renderTeam(): void {
  const form = byId<HTMLFormElement>('login-form');
  const body = byId('team-body');
  const count = byId('online-count');
  const session = state.session;
  if (!session) {
    show(form, true);
    show(body, false);
    show(count, false);
    const note = byId('login-note');
    note.textContent = state.loginNote ?? '';
    show(note, state.loginNote !== undefined);
    return;
  }
  show(form, false);
  show(body, true);
  byId('me-name').textContent = session.me?.full_name ?? '…';

  const people = [...state.online.values()].sort((a, b) => a.full_name.localeCompare(b.full_name));
  const list = byId('online-list');
  replace(
    list,
    ...people.map((u) =>
      h(
        'li',
        { class: 'person', attrs: { 'data-user-id': u.id } },
        h('span', { class: 'avatar', attrs: { 'aria-hidden': 'true' } }, initials(u.full_name)),
        h(
          'span',
          { class: 'person-main' },
          h(
            'span',
            { class: 'person-name' },
            u.full_name,
            u.id === session.me?.id ? h('span', { class: 'you' }, ' (you)') : null,
          ),
          h(
            'span',
            { class: 'person-sub' },
            u.role
              ? h('span', { class: `role role-${u.role === 'admin' ? 'admin' : 'member'}` }, u.role)
              : null,
            h('span', { class: 'since' }, `online · ${relativeTime(u.last_seen_at)}`),
          ),
        ),
        h('span', { class: 'presence-dot', attrs: { title: 'online' } }),
      ),
    ),
  );
  if (state.onlineExtra > 0)
    list.append(h('li', { class: 'more muted' }, `and ${fmt(state.onlineExtra)} more`));
  const onlineEmpty = byId('online-empty');
  onlineEmpty.textContent = state.onlineLoaded ? 'Nobody is online right now.' : 'Loading who is online…';
  show(onlineEmpty, people.length === 0);
  count.textContent = `${fmt(people.length + state.onlineExtra)} online`;
  show(count, state.onlineLoaded);

  replace(
    byId('activity'),
    ...state.activity.map((a) =>
      h(
        'li',
        { class: `activity-item activity-${a.kind}` },
        h('time', null, timeOfDay(a.at)),
        h('span', null, ...a.parts),
      ),
    ),
  );
  show(byId('activity-empty'), state.activity.length === 0);
}

function renderConnection(): void {
  const conn = byId('conn');
  let kind: string;
  let text: string;
  if (state.unreachable && !(live?.isOpen ?? false)) {
    kind = 'down';
    text = 'Server unreachable · retrying';
  } else if (state.session && state.liveState === 'open') {
    kind = 'live';
    text = 'Live';
  } else if (state.session && state.liveState === 'reconnecting') {
    kind = 'reconnecting';
    text = `Reconnecting…${state.liveAttempt > 1 ? ` (attempt ${state.liveAttempt})` : ''}`;
  } else if (state.session) {
    kind = 'connecting';
    text = 'Connecting…';
  } else {
    kind = 'polling';
    text = `Auto-refresh every ${POLL_MS / 1000} s`;
  }
  conn.dataset.state = kind;
  byId('conn-text').textContent = text;
}

// ---------------------------------------------------------------------------------------------
// Start-up

function wireLoginForm(): void {
  const form = byId<HTMLFormElement>('login-form');
  const email = byId<HTMLInputElement>('login-email');
  const password = byId<HTMLInputElement>('login-password');
  const error = byId('login-error');
  const submit = byId<HTMLButtonElement>('login-submit');
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    show(error, false);
    if (!email.value.trim() || !password.value) {
      error.textContent = 'Enter your email and password.';
      show(error, true);
      return;
    }
    submit.disabled = true;
    submit.textContent = 'Signing in…';
    try {
      const { token, expiresIn } = await login(email.value.trim(), password.value);
      password.value = '';
      await beginSession({ token, expiresAt: Date.now() + expiresIn * 1000 });
    } catch (err) {
      error.textContent =
        err instanceof UnauthorizedError
          ? 'Wrong email or password.'
          : err instanceof UnreachableError
            ? 'Cannot reach the server. Try again in a moment.'
            : err instanceof RequestError && err.status === 429
              ? 'Too many attempts. Wait a minute and try again.'
              : err instanceof RequestError
                ? err.message
                : 'Sign-in failed.';
      show(error, true);
    } finally {
      submit.disabled = false;
      submit.textContent = 'Sign in';
    }
  });
  byId('sign-out').addEventListener('click', () => endSession('signed_out'));
  byId('clear-filters').addEventListener('click', () => {
    state.filters = {};
    renderFilters();
    refreshSummary();
  });
}

function start(): void {
  wireLoginForm();
  renderConnection();
  refreshSummary();
  scheduleTrends(0);
  // Until the socket is open (signed out, or reconnecting), poll; a 304 costs almost nothing.
  // A hidden tab does not poll; it catches up the moment it is shown again.
  setInterval(() => {
    if (document.hidden) return;
    if (!live?.isOpen) refreshSummary();
    if (!state.trends) scheduleTrends(0);
  }, POLL_MS);
  document.addEventListener('visibilitychange', () => {
    if (!document.hidden && !live?.isOpen) refreshSummary();
  });
  // Keep "online · 3 min ago" honest.
  setInterval(() => state.session && renderTeam(), 30_000);
  let lastWidth = 0;
  new ResizeObserver(([entry]) => {
    const width = Math.round(entry?.contentRect.width ?? 0);
    if (width > 0 && width !== lastWidth) {
      lastWidth = width;
      if (state.trends) renderTrend();
    }
  }).observe(byId('trend'));

  const saved = loadSession();
  if (saved && saved.expiresAt > Date.now()) {
    void beginSession(saved);
  } else {
    if (saved) {
      saveSession(undefined);
      state.loginNote = 'Your session has expired. Sign in again to see who is online.';
    }
    renderTeam();
  }
}

start();
