/**
 * Wait for a condition with a deadline, polling; never a fixed sleep. Returns the first
 * truthy value of `probe`, or throws with `what` and the last value seen.
 */
export async function waitFor<T>(
  probe: () => T | Promise<T>,
  opts: { timeoutMs?: number; intervalMs?: number; what?: string } = {},
): Promise<NonNullable<T>> {
  const deadline = Date.now() + (opts.timeoutMs ?? 5_000);
  let last: unknown;
  let lastError: unknown;
  while (Date.now() < deadline) {
    try {
      last = await probe();
      if (last) return last as NonNullable<T>;
    } catch (err) {
      lastError = err;
    }
    await Bun.sleep(opts.intervalMs ?? 20);
  }
  throw new Error(
    `timed out after ${opts.timeoutMs ?? 5_000} ms waiting for ${opts.what ?? 'condition'}; last value: ${JSON.stringify(last)}${lastError ? `; last error: ${lastError}` : ''}`,
  );
}
