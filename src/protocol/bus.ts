import type { ServerFrameOf } from './frames';

/**
 * Messages between the parts of one instance and between instances (through Redis when
 * configured): topic → the messages published on it. Task and presence messages are the
 * WebSocket frames themselves, so an instance forwards them to its sockets as they are.
 */
export interface BusTopics {
  /** Published by the tasks service after commit. */
  tasks: ServerFrameOf<'task_created'> | ServerFrameOf<'task_updated'> | ServerFrameOf<'task_deleted'>;
  /** Published by the presence writer once a transition is in the database. */
  presence: ServerFrameOf<'user_status_update'>;
}

export type BusTopic = keyof BusTopics;
export type BusMessage<T extends BusTopic = BusTopic> = BusTopics[T];

export const BUS_TOPICS = ['tasks', 'presence'] as const satisfies readonly BusTopic[];
