import type { DashboardSummary } from '../../protocol/schemas';
import { fetchSummary, RequestError, UnreachableError } from './api';
import { byId, show } from './dom';
import { type ImpactView, renderFilters, renderImpact, renderUnreachable } from './impact-view';
import { DIMENSIONS, type Dimension, type Filters, hasFilters } from './labels';

/**
 * Collective Impact's figures: the public summary under the chosen filters, polled (with
 * If-None-Match) until a signed-in socket pushes it, plus per active filter the summary
 * without it, which the chips count from. Whether the server can be reached is decided here.
 */

export interface ImpactHooks {
  /** The task counts may have changed: the trend should follow. */
  tasksChanged(): void;
  /** The server became reachable or unreachable. */
  reachabilityChanged(): void;
}

/** Without a pushed summary this long after a task or presence frame (e.g. frames lost), ask. */
const PUSH_FALLBACK_MS = 1_500;

export class ImpactPanel {
  private readonly view: ImpactView = {
    filters: {},
    summary: undefined,
    facets: {},
    updatedAt: undefined,
    unreachable: false,
    problem: undefined,
  };
  private refreshing: Promise<void> | undefined;
  private refreshAgain = false;
  private fallbackTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(private readonly hooks: ImpactHooks) {}

  get unreachable(): boolean {
    return this.view.unreachable;
  }

  start(): void {
    byId('clear-filters').addEventListener('click', () => this.setFilters({}));
    this.refresh();
  }

  /** Fetch the summaries now, or once more right after the fetch in flight. */
  refresh(): void {
    if (this.refreshing) {
      this.refreshAgain = true;
      return;
    }
    this.refreshing = this.load().finally(() => {
      this.refreshing = undefined;
      if (this.refreshAgain) {
        this.refreshAgain = false;
        this.refresh();
      }
    });
  }

  /** A pushed summary is the unfiltered one: shown directly only when no filter is set. */
  applyPushed(summary: DashboardSummary): void {
    clearTimeout(this.fallbackTimer);
    this.fallbackTimer = undefined;
    const previous = this.view.facets.status ?? this.view.summary;
    if (hasFilters(this.view.filters)) {
      this.refresh();
    } else {
      this.view.summary = summary;
      this.view.facets = { status: summary, priority: summary, category: summary };
      this.view.updatedAt = new Date();
      this.render();
    }
    // Presence-only pushes leave the trend alone; task frames schedule it themselves too.
    if (
      previous?.total_tasks !== summary.total_tasks ||
      previous?.completed_tasks !== summary.completed_tasks
    ) {
      this.hooks.tasksChanged();
    }
  }

  /** A frame changed the figures; normally a pushed summary follows, else ask for one. */
  expectPush(): void {
    if (this.fallbackTimer !== undefined) return;
    this.fallbackTimer = setTimeout(() => {
      this.fallbackTimer = undefined;
      this.refresh();
    }, PUSH_FALLBACK_MS);
  }

  private readonly toggle = (dimension: Dimension, key: string): void => {
    const filters = this.view.filters;
    this.setFilters({ ...filters, [dimension]: filters[dimension] === key ? undefined : key });
  };

  private setFilters(filters: Filters): void {
    this.view.filters = filters;
    renderFilters(this.view, this.toggle); // show the pressed chip at once; figures follow
    this.refresh();
  }

  private render(): void {
    renderImpact(this.view, this.toggle);
  }

  /** The filtered summary plus, per active filter, the summary without it (the chip counts). */
  private async load(): Promise<void> {
    const filters = { ...this.view.filters };
    const active = DIMENSIONS.filter((d) => filters[d] !== undefined);
    try {
      const [main, ...others] = await Promise.all([
        fetchSummary(filters),
        ...active.map((d) => fetchSummary({ ...filters, [d]: undefined })),
      ]);
      if (DIMENSIONS.some((d) => filters[d] !== this.view.filters[d])) return; // superseded by a click
      const facets: Partial<Record<Dimension, DashboardSummary>> = {};
      for (const d of DIMENSIONS) facets[d] = main!.summary;
      active.forEach((d, i) => {
        facets[d] = others[i]!.summary;
      });
      // A 304 still changes what is shown when the filters changed since the last render.
      const changed =
        main!.changed ||
        others.some((r) => r.changed) ||
        this.view.unreachable ||
        this.view.summary !== main!.summary ||
        DIMENSIONS.some((d) => this.view.facets[d] !== facets[d]);
      this.view.summary = main!.summary;
      this.view.facets = facets;
      this.view.problem = undefined;
      if (changed || !this.view.updatedAt) this.view.updatedAt = new Date();
      this.setReachable(true);
      if (changed) {
        this.render();
        this.hooks.tasksChanged();
      }
    } catch (err) {
      this.failed(err);
    }
  }

  private failed(err: unknown): void {
    if (err instanceof UnreachableError) {
      this.setReachable(false, err.message);
      return;
    }
    if (err instanceof RequestError) {
      this.view.problem =
        err.status === 404
          ? 'The dashboard summary is not available on this server yet.'
          : `The server refused the request: ${err.message}`;
    } else {
      this.view.problem = 'Something went wrong while reading the dashboard.';
      console.warn(err);
    }
    this.render();
  }

  private setReachable(reachable: boolean, message?: string): void {
    const was = this.view.unreachable;
    this.view.unreachable = !reachable;
    if (!reachable) renderUnreachable(this.view, message);
    else if (was) show(byId('banner'), false);
    if (was !== this.view.unreachable) {
      this.render();
      this.hooks.reachabilityChanged();
    }
  }
}
