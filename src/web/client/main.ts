import type { ServerFrame, ServerFrameData } from '../../protocol/frames';
import { fetchMe, UnauthorizedError } from './api';
import { Connection } from './connection';
import { ImpactPanel } from './impact';
import { WorkloadPanel } from './insights';
import { PresenceFollower } from './presence-subscriptions';
import { endReasonFor, SessionPanel } from './session';
import { TeamPanel } from './team';
import { TrendPanel } from './trend';

/**
 * The dashboard, put together: Collective Impact (impact.ts, trend.ts) from the public summary,
 * polled until the user signs in and then pushed over the WebSocket; Team Coordination
 * (team.ts) from /users/online plus presence frames (followed in large teams:
 * presence-subscriptions.ts); the session (session.ts) and
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
    workload.reset();
    connection.render();
  },
  changed: () => team.render(),
});
const team = new TeamPanel({
  session: () => session.current,
  unauthorized: () => session.end('expired'),
  // The people listed, and ourselves: our own arrival may not be in the first list yet.
  listed: (userIds) => follower.follow([...userIds, ...(session.current?.me ? [session.current.me.id] : [])]),
});
const workload = new WorkloadPanel({
  token: () => session.current?.token,
  unauthorized: () => session.end('expired'),
});
const connection = new Connection({
  frame: handleFrame,
  opened() {
    follower.reset();
    void team.refreshOnline();
    impact.refresh();
    workload.schedule(0);
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

/** Large teams: the presence of the people listed, and the team-wide count (presence-subscriptions.ts). */
const follower = new PresenceFollower((frame) => connection.send(frame));

function presenceMode({ online, mode }: ServerFrameData['presence_count']): void {
  const next = follower.modeSaid(mode);
  if (next === 'count') team.onlineTotal(online);
  if (next === 'reload') void team.refreshOnline();
}

function handleFrame(frame: ServerFrame): void {
  switch (frame.type) {
    case 'dashboard_summary':
      impact.applyPushed(frame.data.summary);
      workload.schedule(); // every change (and overdue by time alone) is followed by a push
      break;
    case 'user_status_update':
      team.presence(frame.data);
      impact.expectPush(); // "online now" changes too
      break;
    case 'presence_batch':
      team.presenceBatch(frame.data.users);
      impact.expectPush();
      break;
    case 'presence_subscribed':
      team.presenceSnapshot(frame.data.users);
      presenceMode(frame.data);
      break;
    case 'presence_count':
      presenceMode(frame.data);
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
    case 'resync':
      // Task events may have been missed: the charts re-read what they show (the summary and
      // presence come again by themselves; the activity list is news, not state).
      trend.schedule();
      workload.schedule();
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
workload.reset();
impact.start();
trend.schedule(0);
trend.followWidth();
connection.startPolling();
setInterval(() => session.current && team.render(), RELATIVE_TIMES_MS);
session.start();
