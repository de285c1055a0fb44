import type { TrendPoint } from '../../protocol/schemas';
import { fetchTrends, RequestError } from './api';
import { trendChart } from './charts';
import { byId, h, replace } from './dom';
import { fmt } from './format';

/** Days the trend covers. */
const TREND_DAYS = 30;
/** After a task change, refetch at most about once a second. */
const TREND_DELAY_MS = 1_000;

/** The "created vs completed" chart of Collective Impact: its data, refetches and drawing. */
export class TrendPanel {
  private days: TrendPoint[] | undefined;
  private problem: string | undefined;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private loading = false;
  private drawnWidth = 0;

  get loaded(): boolean {
    return this.days !== undefined;
  }

  /** Trends change with tasks: fetch again after `delayMs`, once for a burst of changes. */
  schedule(delayMs = TREND_DELAY_MS): void {
    if (this.timer !== undefined) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      if (this.loading) return this.schedule(delayMs);
      void this.load();
    }, delayMs);
  }

  /** Redraw at the container's width whenever it changes (the chart is drawn in pixels). */
  followWidth(): void {
    new ResizeObserver(([entry]) => {
      const width = Math.round(entry?.contentRect.width ?? 0);
      if (width > 0 && width !== this.drawnWidth) {
        this.drawnWidth = width;
        if (this.days) this.render();
      }
    }).observe(byId('trend'));
  }

  private async load(): Promise<void> {
    this.loading = true;
    try {
      this.days = await fetchTrends(TREND_DAYS);
      this.problem = undefined;
    } catch (err) {
      if (err instanceof RequestError && err.status === 404) {
        this.problem = 'The trend is not available on this server yet.';
      } else if (!this.days) {
        this.problem = 'The trend could not be loaded; retrying.';
      }
    } finally {
      this.loading = false;
    }
    this.render();
  }

  private render(): void {
    const container = byId('trend');
    const legend = byId('trend-legend');
    const days = this.days;
    if (!days) {
      replace(container, h('p', { class: 'muted' }, this.problem ?? 'Loading trend…'));
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
}
