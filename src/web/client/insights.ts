import type { DashboardSummary, WorkloadEntry } from '../../protocol/schemas';
import { fetchWorkload, UnauthorizedError } from './api';
import { byId, h, replace, show } from './dom';
import { fmt } from './format';

/**
 * Team insights (issue 12): overdue, due-soon and cycle-time figures from the summary (so they
 * follow its filters and pushes), and the workload table for signed-in users, fetched again
 * whenever a pushed summary says something changed (including time moving a task into
 * "overdue", which the server pushes by itself).
 */

export interface InsightsHooks {
  token(): string | undefined;
  unauthorized(): void;
}

/** Several frames in a burst cost one workload request. */
const REFRESH_DELAY_MS = 150;

/** Hours as people read them: minutes below an hour, days from two days on. */
export function duration(hours: number | null): string {
  if (hours === null) return '–';
  if (hours < 1) return `${Math.max(1, Math.round(hours * 60))} min`;
  if (hours < 48) return `${hours < 10 ? hours.toFixed(1) : Math.round(hours)} h`;
  return `${(hours / 24).toFixed(1)} d`;
}

export function renderInsightFigures(s: DashboardSummary): void {
  byId('kpi-overdue').textContent = fmt(s.overdue_tasks);
  byId('kpi-overdue').parentElement?.classList.toggle('alert', s.overdue_tasks > 0);
  byId('kpi-due-soon').textContent = fmt(s.due_soon_tasks);
  const c = s.cycle_time;
  byId('kpi-cycle').textContent = duration(c.median_hours);
  byId('kpi-cycle-foot').textContent =
    c.completed_last_30_days === 0
      ? 'nothing completed in 30 days'
      : `median · p90 ${duration(c.p90_hours)} · ${fmt(c.completed_last_30_days)} done in 30 days`;
}

function row(e: WorkloadEntry): HTMLElement {
  const tr = h(
    'tr',
    { class: e.overdue > 0 ? 'has-overdue' : '', attrs: { 'data-user': e.user_id ?? 'unassigned' } },
    h('th', { attrs: { scope: 'row' } }, e.full_name ?? h('em', null, 'Unassigned')),
    h('td', { attrs: { 'data-col': 'open' } }, fmt(e.open)),
    h('td', null, fmt(e.by_status.todo)),
    h('td', null, fmt(e.by_status.in_progress)),
    h('td', null, fmt(e.by_status.review)),
    h('td', { class: e.overdue > 0 ? 'overdue' : '', attrs: { 'data-col': 'overdue' } }, fmt(e.overdue)),
    h('td', { attrs: { 'data-col': 'done7' } }, fmt(e.completed_last_7_days)),
  );
  return tr;
}

export class WorkloadPanel {
  private timer: ReturnType<typeof setTimeout> | undefined;
  private loading = false;
  private again = false;

  constructor(private readonly hooks: InsightsHooks) {}

  /** Signed out: the table gives way to a hint. */
  reset(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    show(byId('workload-table'), false);
    byId('workload-state').textContent = 'Sign in to see who carries what.';
    show(byId('workload-state'), true);
  }

  schedule(delay = REFRESH_DELAY_MS): void {
    if (!this.hooks.token() || this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.load();
    }, delay);
  }

  private async load(): Promise<void> {
    const token = this.hooks.token();
    if (!token) return;
    if (this.loading) {
      this.again = true;
      return;
    }
    this.loading = true;
    try {
      const { entries, total } = await fetchWorkload(token);
      if (this.hooks.token() !== token) return; // signed out meanwhile
      replace(byId('workload-rows'), ...entries.map(row));
      byId('workload-total').textContent =
        total > entries.length ? `${fmt(entries.length)} of ${fmt(total)}` : '';
      show(byId('workload-table'), entries.length > 0);
      byId('workload-state').textContent = 'Nobody has open work.';
      show(byId('workload-state'), entries.length === 0);
    } catch (err) {
      if (err instanceof UnauthorizedError) this.hooks.unauthorized();
      else console.warn(err);
    } finally {
      this.loading = false;
      if (this.again) {
        this.again = false;
        this.schedule(0);
      }
    }
  }
}
