import type { ServerFrameOf } from './frames';
import type { UserStatus } from './schemas';

/**
 * One presence transition as written to the database, with the store's sequence number, so an
 * instance can drop a change that arrives after a newer one for the same user (two instances'
 * messages may cross in Redis).
 */
export interface PresenceChange {
  user: UserStatus;
  /** Absent on a correction read from the database after an outage: applied as it is. */
  seq?: number;
}

/**
 * Messages between the parts of one instance and between instances (through Redis when
 * configured): topic → the messages published on it. Task messages are the WebSocket frames
 * themselves; presence messages carry a written batch, which each instance turns into
 * frames for its own sockets (batched, filtered by subscription).
 */
export interface BusTopics {
  /** Published by the tasks service after commit. */
  tasks: ServerFrameOf<'task_created'> | ServerFrameOf<'task_updated'> | ServerFrameOf<'task_deleted'>;
  /** Published by the presence writer once per written batch, after commit. */
  presence: { changes: PresenceChange[] };
}

export type BusTopic = keyof BusTopics;
export type BusMessage<T extends BusTopic = BusTopic> = BusTopics[T];

export const BUS_TOPICS = ['tasks', 'presence'] as const satisfies readonly BusTopic[];
