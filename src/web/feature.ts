import type { Feature, Runtime } from '../runtime';

/** Placeholder: filled in by the web work. */
export function createWebFeature(_rt: Runtime): Feature {
  return { name: 'web' };
}
