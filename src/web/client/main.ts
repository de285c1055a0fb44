import type { ServerFrame } from '../../protocol/frames';
import { fetchMe, UnauthorizedError } from './api';
import { Connection } from './connection';
import { ImpactPanel } from './impact';
import { endReasonFor, SessionPanel } from './session';
import { TeamPanel } from './team';
import { TrendPanel } from './trend';

/**
 * The dashboard, put together: Collective Impact (impact.ts, trend.ts) from the public summary,
 * polled until the user signs in and then pushed over the WebSocket; Team Coordination
 * (team.ts) from /users/online plus `user_status_update` frames; the session (session.ts) and
 * the connection (connection.ts) that keep both current. Each part owns its state; this file
 * only wires them together and routes the server's frames.
 */

/** Keep "online · 3 min ago" honest. */
const RELATIVE_TIMES_MS = 30_000;

const trend = new TrendPanel();
const impact = new ImpactPanel({
  tasksChanged: () => trend.schedule(),
  reachabilityChanged: () => connection.render(),
});
const session = new SessionPanel({
  started() {
    connection.disconnect();
    team.reset();
  },
  accepted: (s) => connection.connect(s.token),
  ended() {
    connection.disconnect();
    team.reset();
    connection.render();
  },
  changed: () => team.render(),
});
const team = new TeamPanel({
  session: () => session.current,
  unauthorized: () => session.end('expired'),
});
const connection = new Connection({
  frame: handleFrame,
  opened() {
    void team.refreshOnline();
    impact.refresh();
    void session.fillInName();
  },
  refused: checkToken,
  signInNeeded: (code) => session.end(endReasonFor(code)),
  poll(live) {
    if (!live) impact.refresh();
    if (!trend.loaded) trend.schedule(0);
  },
  signedIn: () => session.current !== undefined,
  unreachable: () => impact.unreachable,
});

function handleFrame(frame: ServerFrame): void {
  switch (frame.type) {
    case 'dashboard_summary':
      impact.applyPushed(frame.data.summary);
      break;
    case 'user_status_update':
      team.presence(frame.data);
      impact.expectPush(); // "online now" changes too
      break;
    case 'task_created':
    case 'task_updated':
      team.taskChanged(frame.type, frame.data);
      trend.schedule();
      impact.expectPush();
      break;
    case 'task_deleted':
      team.taskDeleted(frame.data);
      trend.schedule();
      impact.expectPush();
      break;
    case 'pong':
    case 'error':
      break; // nothing to show; frame types the page does not know are ignored as well
  }
}

/** The socket never opened: ask the API whether the token is still good. */
async function checkToken(): Promise<'retry' | 'stop'> {
  const current = session.current;
  if (!current) return 'stop';
  try {
    await fetchMe(current.token);
    return 'retry';
  } catch (err) {
    if (!(err instanceof UnauthorizedError)) return 'retry';
    if (session.current === current) session.end('expired');
    return 'stop';
  }
}

connection.render();
impact.start();
trend.schedule(0);
trend.followWidth();
connection.startPolling();
setInterval(() => session.current && team.render(), RELATIVE_TIMES_MS);
session.start();
