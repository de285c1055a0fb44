import { readdirSync, readFileSync, readlinkSync } from 'node:fs';

/**
 * Bun.serve listens with a fixed accept queue of 512 connections (its `backlog` option is not
 * passed to the kernel in Bun 1.4; oven-sh/bun#33786). In a connect storm (every dashboard
 * reconnecting after a deploy, or a Monday morning) the queue fills while the loop is busy,
 * Linux drops the SYNs that find it full, and each of those clients retries only after 1 s, then
 * 3 s, 7 s (bench/RESULTS.md, round eight: ~1,150 of a 10,000-socket storm). Linux lets a
 * listening socket's queue be resized by calling listen() again on it, so this finds the
 * server's listening socket among the process's descriptors and does that. The kernel caps
 * the queue at net.core.somaxconn (4096 by default).
 */

/** `backlog`: the queue the kernel now keeps, the one asked for capped by net.core.somaxconn. */
type Outcome = { applied: true; fd: number; backlog: number } | { applied: false; reason: string };

/**
 * The sockets listening on `port` (any process), from /proc/net/tcp and tcp6 (state 0A):
 * each one's inode, and `queued`, the connections in its accept queue right now (the rx_queue
 * column, for a listening socket).
 */
export function listeningSockets(port: number): { inode: string; queued: number }[] {
  const hexPort = port.toString(16).toUpperCase().padStart(4, '0');
  const found: { inode: string; queued: number }[] = [];
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text: string;
    try {
      text = readFileSync(table, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const cols = line.trim().split(/\s+/);
      // sl local_address rem_address st tx_queue:rx_queue tr:when retrnsmt uid timeout inode
      if (cols.length > 9 && cols[3] === '0A' && cols[1]!.endsWith(`:${hexPort}`))
        found.push({ inode: cols[9]!, queued: Number.parseInt(cols[4]!.split(':')[1]!, 16) });
    }
  }
  return found;
}

/** The descriptors of this process that are one of these sockets. */
function descriptorsOf(inodes: Set<string>): number[] {
  const fds: number[] = [];
  for (const name of readdirSync('/proc/self/fd')) {
    let target: string;
    try {
      target = readlinkSync(`/proc/self/fd/${name}`);
    } catch {
      continue; // closed meanwhile
    }
    const inode = /^socket:\[(\d+)\]$/.exec(target)?.[1];
    if (inode && inodes.has(inode)) fds.push(Number(name));
  }
  return fds;
}

let libcListen: ((fd: number, backlog: number) => number) | null | undefined;

async function loadListen(): Promise<((fd: number, backlog: number) => number) | null> {
  if (libcListen !== undefined) return libcListen;
  libcListen = null;
  let ffi: typeof import('bun:ffi');
  try {
    ffi = await import('bun:ffi');
  } catch {
    return null;
  }
  const { dlopen, FFIType } = ffi;
  for (const name of ['libc.so.6', 'libc.so', 'libc.musl-x86_64.so.1', 'libc.musl-aarch64.so.1']) {
    try {
      const lib = dlopen(name, { listen: { args: [FFIType.i32, FFIType.i32], returns: FFIType.i32 } });
      libcListen = (fd, backlog) => lib.symbols.listen(fd, backlog);
      break;
    } catch {}
  }
  return libcListen;
}

/**
 * Resize the accept queue of this process's socket listening on `port` to `backlog` (Linux;
 * elsewhere, or when the socket cannot be found, nothing changes and the reason is returned).
 */
export async function raiseListenBacklog(port: number, backlog: number): Promise<Outcome> {
  if (process.platform !== 'linux') return { applied: false, reason: `not on Linux (${process.platform})` };
  let fds: number[];
  try {
    fds = descriptorsOf(new Set(listeningSockets(port).map((s) => s.inode)));
  } catch (err) {
    return { applied: false, reason: `cannot read /proc: ${err}` };
  }
  if (fds.length !== 1)
    return { applied: false, reason: `found ${fds.length} listening sockets for port ${port}, expected 1` };
  const listen = await loadListen();
  if (!listen) return { applied: false, reason: 'libc listen() could not be loaded' };
  const fd = fds[0]!;
  if (listen(fd, backlog) !== 0) return { applied: false, reason: `listen(${fd}, ${backlog}) failed` };
  return { applied: true, fd, backlog: Math.min(backlog, somaxconn() ?? backlog) };
}

/** net.core.somaxconn, the kernel's cap on any accept queue, when it can be read. */
function somaxconn(): number | undefined {
  try {
    const n = Number(readFileSync('/proc/sys/net/core/somaxconn', 'utf8').trim());
    return Number.isInteger(n) && n > 0 ? n : undefined;
  } catch {
    return undefined;
  }
}
