import type { DashboardSummary } from '../../protocol/schemas';
import { barList } from './charts';
import { byId, h, replace, show } from './dom';
import { fmt, percent, timeOfDay } from './format';
import {
  barRows,
  CATEGORY_BARS,
  chipKeys,
  countsOf,
  DIMENSIONS,
  type Dimension,
  type Filters,
  hasFilters,
  labelFor,
} from './labels';
import { POLL_MS } from './live';

/**
 * Drawing Collective Impact from what ImpactPanel knows: the figures, the filter chips and
 * the bar charts, or the loading / error state before there are figures. Every server string
 * reaches the DOM as a text node.
 */

export interface ImpactView {
  filters: Filters;
  /** The summary under the current filters. */
  summary: DashboardSummary | undefined;
  /** Per dimension, the summary its chips count from (without that dimension's own filter). */
  facets: Partial<Record<Dimension, DashboardSummary>>;
  updatedAt: Date | undefined;
  unreachable: boolean;
  /** A request the server refused, in words. */
  problem: string | undefined;
}

export type ToggleFilter = (dimension: Dimension, key: string) => void;

export function renderImpact(view: ImpactView, toggle: ToggleFilter): void {
  const stateBox = byId('impact-state');
  const body = byId('impact-body');
  const s = view.summary;
  if (!s) {
    show(body, false);
    show(stateBox, true);
    const [kind, text] = view.unreachable
      ? ['error', 'Cannot reach the server. The dashboard will appear as soon as it answers.']
      : view.problem
        ? ['error', view.problem]
        : ['loading', 'Loading dashboard…'];
    stateBox.dataset.state = kind;
    byId('impact-state-text').textContent = text;
    return;
  }
  show(stateBox, false);
  show(body, true);
  body.classList.toggle('stale', view.unreachable);
  byId('updated').textContent = view.updatedAt ? `Updated ${timeOfDay(view.updatedAt)}` : '';
  renderKpis(s, hasFilters(view.filters));
  renderNote(view, s);
  renderFilters(view, toggle);
  renderBars(s, 'status', 'chart-status');
  renderBars(s, 'priority', 'chart-priority');
  renderBars(s, 'category', 'chart-category', CATEGORY_BARS);
}

function setKpi(id: string, value: string, foot: string): void {
  byId(`kpi-${id}`).textContent = value;
  byId(`kpi-${id}-foot`).textContent = foot;
}

function renderKpis(s: DashboardSummary, filtered: boolean): void {
  setKpi('total', fmt(s.total_tasks), filtered ? 'matching the filters' : 'all tasks');
  setKpi('completed', fmt(s.completed_tasks), `${fmt(s.total_tasks - s.completed_tasks)} not completed`);
  setKpi('rate', percent(s.completion_rate), '');
  const meter = h('span', { class: 'meter-fill' });
  meter.style.width = `${Math.max(0, Math.min(1, s.completion_rate || 0)) * 100}%`;
  replace(byId('kpi-rate-foot'), h('span', { class: 'meter' }, meter));
  setKpi('active', fmt(s.active_users), 'accounts');
  setKpi('online', fmt(s.online_users), s.online_users === 1 ? 'person connected' : 'people connected');
}

function renderNote(view: ImpactView, s: DashboardSummary): void {
  const note = byId('impact-note');
  if (view.problem) {
    note.textContent = view.problem;
    note.dataset.kind = 'error';
    show(note, true);
  } else if (s.total_tasks === 0) {
    note.textContent = hasFilters(view.filters)
      ? 'No tasks match these filters.'
      : 'No tasks yet. Tasks created through the API (POST /api/v1/tasks) appear here as soon as they are saved.';
    note.dataset.kind = 'empty';
    show(note, true);
  } else {
    show(note, false);
  }
}

function renderBars(s: DashboardSummary, dimension: Dimension, container: string, limit?: number): void {
  const rows = barRows(dimension, countsOf(s, dimension), limit);
  const el = byId(container);
  if (rows.length === 0) replace(el, h('p', { class: 'muted' }, 'No tasks.'));
  else replace(el, barList(rows, s.total_tasks, dimension));
}

export function renderFilters(view: ImpactView, toggle: ToggleFilter): void {
  const container = byId('filters');
  // Chips are rebuilt on every update; keep keyboard focus on the chip that had it.
  const focused = document.activeElement instanceof HTMLElement ? document.activeElement : null;
  const focusKey = container.contains(focused)
    ? `${focused?.dataset.dimension}\u0000${focused?.dataset.key}`
    : null;
  replace(container, ...DIMENSIONS.map((dimension) => filterGroup(view, dimension, toggle)));
  if (focusKey !== null) {
    for (const chip of container.querySelectorAll<HTMLElement>('.chip')) {
      if (`${chip.dataset.dimension}\u0000${chip.dataset.key}` === focusKey) chip.focus();
    }
  }
  show(byId('clear-filters'), hasFilters(view.filters));
}

function filterGroup(view: ImpactView, dimension: Dimension, toggle: ToggleFilter): HTMLElement {
  const counts = countsOf(view.facets[dimension] ?? view.summary, dimension);
  const selected = view.filters[dimension];
  const chips = chipKeys(dimension, counts, selected).map((key) => {
    const chip = h(
      'button',
      {
        class: 'chip',
        attrs: {
          type: 'button',
          'aria-pressed': String(selected === key),
          'data-dimension': dimension,
          'data-key': key,
        },
      },
      h('span', { class: 'chip-label' }, labelFor(dimension, key)),
      h('span', { class: 'chip-count' }, fmt(counts[key] ?? 0)),
    );
    chip.addEventListener('click', () => toggle(dimension, key));
    return chip;
  });
  return h(
    'div',
    { class: 'filter-group', attrs: { role: 'group', 'aria-label': `Filter by ${dimension}` } },
    h('span', { class: 'filter-name' }, dimension[0]!.toUpperCase() + dimension.slice(1)),
    h('div', { class: 'chips' }, ...chips),
  );
}

/** The banner saying the server cannot be reached, and since when the figures are. */
export function renderUnreachable(view: ImpactView, message: string | undefined): void {
  const banner = byId('banner');
  replace(
    banner,
    h('strong', null, 'Cannot reach the HIVE server. '),
    message && message !== 'The server cannot be reached.' ? `${message} ` : '',
    view.summary && view.updatedAt
      ? `Showing the figures from ${timeOfDay(view.updatedAt)}; retrying every ${POLL_MS / 1000} s.`
      : `Retrying every ${POLL_MS / 1000} s.`,
  );
  banner.dataset.kind = 'error';
  show(banner, true);
}
