import type { Feature, Runtime } from '../../runtime';

/** Placeholder: filled in by the dashboard work. */
export function createDashboardFeature(_rt: Runtime): Feature {
  return { name: 'dashboard' };
}
