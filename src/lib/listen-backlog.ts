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

type Libc = {
  listen(fd: number, backlog: number): number;
  /** The port `fd` is bound to if it is a listening TCP socket, else undefined. */
  listeningPort(fd: number): number | undefined;
};

const SOL_SOCKET = 1;
const SO_ACCEPTCONN = 30;
const AF_INET = 2;
const AF_INET6 = 10;

let libc: Libc | null | undefined;

/**
 * listen, getsockname and getsockopt from libc through bun:ffi, or null. The constants above
 * are Linux's generic ones (x86-64, arm64); other architectures are left alone.
 */
async function loadLibc(): Promise<Libc | null> {
  if (libc !== undefined) return libc;
  libc = null;
  let ffi: typeof import('bun:ffi');
  try {
    ffi = await import('bun:ffi');
  } catch {
    return null;
  }
  const { dlopen, FFIType } = ffi;
  const { i32, ptr } = FFIType;
  const symbols = {
    listen: { args: [i32, i32], returns: i32 },
    getsockname: { args: [i32, ptr, ptr], returns: i32 },
    getsockopt: { args: [i32, i32, i32, ptr, ptr], returns: i32 },
  } as const;
  for (const name of ['libc.so.6', 'libc.so', 'libc.musl-x86_64.so.1', 'libc.musl-aarch64.so.1']) {
    let lib: ReturnType<typeof dlopen<typeof symbols>>;
    try {
      lib = dlopen(name, symbols);
    } catch {
      continue;
    }
    const address = new Uint8Array(128);
    const value = new Int32Array(1);
    const length = new Uint32Array(1);
    libc = {
      listen: (fd, backlog) => lib.symbols.listen(fd, backlog),
      listeningPort(fd) {
        length[0] = 4;
        if (lib.symbols.getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, value, length) !== 0 || value[0] !== 1)
          return undefined;
        length[0] = address.length;
        if (lib.symbols.getsockname(fd, address, length) !== 0) return undefined;
        // sockaddr_in and sockaddr_in6 alike: the family (host order), then the port (network order).
        const family = address[0]! | (address[1]! << 8);
        if (family !== AF_INET && family !== AF_INET6) return undefined;
        return (address[2]! << 8) | address[3]!;
      },
    };
    break;
  }
  return libc;
}

/**
 * This process's TCP sockets listening on `port`: each socket among /proc/self/fd, asked
 * directly. Only the process's own descriptors are looked at (a few dozen at start-up), not
 * the host's whole socket table: /proc/net/tcp on a host with 35,000 sockets (a busy one, or
 * this one after a benchmark's TIME_WAITs) took 75–100 ms to read and parse, with the loop
 * blocked while connections already arrive.
 */
function listeningDescriptors(port: number, lib: Libc): number[] {
  const fds: number[] = [];
  for (const name of readdirSync('/proc/self/fd')) {
    let target: string;
    try {
      target = readlinkSync(`/proc/self/fd/${name}`);
    } catch {
      continue; // closed meanwhile
    }
    if (target.startsWith('socket:') && lib.listeningPort(Number(name)) === port) fds.push(Number(name));
  }
  return fds;
}

/**
 * Resize the accept queue of this process's socket listening on `port` to `backlog` (Linux;
 * elsewhere, or when the socket cannot be found, nothing changes and the reason is returned).
 */
export async function raiseListenBacklog(port: number, backlog: number): Promise<Outcome> {
  if (process.platform !== 'linux') return { applied: false, reason: `not on Linux (${process.platform})` };
  if (process.arch !== 'x64' && process.arch !== 'arm64')
    return { applied: false, reason: `socket option numbers not known for ${process.arch}` };
  const lib = await loadLibc();
  if (!lib) return { applied: false, reason: 'libc (listen, getsockopt, getsockname) could not be loaded' };
  let fds: number[];
  try {
    fds = listeningDescriptors(port, lib);
  } catch (err) {
    return { applied: false, reason: `cannot read /proc/self/fd: ${err}` };
  }
  if (fds.length !== 1)
    return { applied: false, reason: `found ${fds.length} listening sockets for port ${port}, expected 1` };
  const fd = fds[0]!;
  if (lib.listen(fd, backlog) !== 0) return { applied: false, reason: `listen(${fd}, ${backlog}) failed` };
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
