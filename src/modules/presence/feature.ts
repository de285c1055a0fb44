import type { Feature, Runtime } from '../../runtime';

/** Placeholder: filled in by the presence work. */
export function createPresenceFeature(_rt: Runtime): Feature {
  return { name: 'presence' };
}
