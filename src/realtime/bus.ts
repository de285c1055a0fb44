import type Redis from 'ioredis';
import type { Logger } from '../lib/logger';
import type { BusMessage, BusTopic } from '../protocol/bus';

/**
 * Events between the parts of the system and between instances. `publish` delivers to
 * this instance's subscribers at once and, with Redis, to every other instance. Each
 * message carries its origin's instance id so an instance drops its own echoes. Topics and
 * their messages are declared in src/protocol/bus.ts.
 */
export type BusHandler<T extends BusTopic = BusTopic> = (message: BusMessage<T>, origin: string) => void;

export interface EventBus {
  readonly instanceId: string;
  publish<T extends BusTopic>(topic: T, message: BusMessage<T>): void;
  /**
   * Deliver to this instance's subscribers only, at once: for a correction meant for this
   * instance's sockets (e.g. presence frames it missed while its subscriber was down).
   */
  deliverLocally<T extends BusTopic>(topic: T, message: BusMessage<T>): void;
  subscribe<T extends BusTopic>(topic: T, handler: BusHandler<T>): () => void;
  /**
   * Called after a Redis reconnect, once every subscription is back in force (messages
   * published from then on arrive), so subscribers can resync what they may have missed.
   */
  onReconnect(handler: () => void): () => void;
  close(): Promise<void>;
}

class LocalFanout {
  // Handlers are stored untyped: `subscribe` is what ties a topic to its message type.
  private readonly handlers = new Map<string, Set<BusHandler>>();
  constructor(private readonly log: Logger) {}

  subscribe<T extends BusTopic>(topic: T, typed: BusHandler<T>): () => void {
    const handler = typed as BusHandler;
    let set = this.handlers.get(topic);
    if (!set) {
      set = new Set();
      this.handlers.set(topic, set);
    }
    set.add(handler);
    return () => set.delete(handler);
  }

  deliver(topic: string, message: BusMessage, origin: string): void {
    const set = this.handlers.get(topic);
    if (!set) return;
    for (const handler of set) {
      try {
        handler(message, origin);
      } catch (err) {
        this.log.error('event handler failed', { topic, type: message.type, err });
      }
    }
  }
}

/** Single-instance mode: everything in process. */
export function createInProcessBus(instanceId: string, log: Logger): EventBus {
  const fanout = new LocalFanout(log);
  return {
    instanceId,
    publish: (topic, message) => queueMicrotask(() => fanout.deliver(topic, message, instanceId)),
    deliverLocally: (topic, message) => fanout.deliver(topic, message, instanceId),
    subscribe: (topic, handler) => fanout.subscribe(topic, handler),
    onReconnect: () => () => {},
    async close() {},
  };
}

/**
 * Redis pub/sub with separate publisher and subscriber connections (a subscribed ioredis
 * connection can run no other command). Channels are `${prefix}events:${topic}`.
 */
export function createRedisBus(opts: {
  instanceId: string;
  prefix: string;
  publisher: Redis;
  subscriber: Redis;
  log: Logger;
}): EventBus {
  const { instanceId, prefix, publisher, subscriber, log } = opts;
  const fanout = new LocalFanout(log);
  const reconnectHandlers = new Set<() => void>();
  const topics = new Set<string>();
  const channel = (topic: string) => `${prefix}events:${topic}`;
  const channelPrefix = `${prefix}events:`;

  subscriber.on('message', (ch: string, raw: string) => {
    if (!ch.startsWith(channelPrefix)) return;
    let parsed: { o: string; m: BusMessage };
    try {
      parsed = JSON.parse(raw);
    } catch {
      log.warn('dropping malformed bus message', { channel: ch });
      return;
    }
    if (parsed.o === instanceId) return; // our own echo: already delivered locally
    fanout.deliver(ch.slice(channelPrefix.length), parsed.m, parsed.o);
  });

  let everReady = subscriber.status === 'ready';
  subscriber.on('ready', () => {
    if (!everReady) {
      everReady = true;
      return;
    }
    // ioredis has re-sent our SUBSCRIBE (autoResubscribe) but Redis may not have run it yet,
    // and anything published before it does is lost to us. Subscribing again and waiting for
    // the reply (replies come in order) means every earlier SUBSCRIBE is in force too; then
    // listeners resync what they missed while disconnected.
    const channels = [...topics].map(channel);
    const resubscribed = channels.length > 0 ? subscriber.subscribe(...channels) : Promise.resolve();
    resubscribed.then(
      () => {
        for (const h of reconnectHandlers) h();
      },
      (err) => log.warn('bus resubscribe failed; waiting for the next reconnect', { err }),
    );
  });

  return {
    instanceId,
    publish(topic, message) {
      queueMicrotask(() => fanout.deliver(topic, message, instanceId));
      // Redis down: lost for the other instances. Presence makes up for it (each instance
      // compares what its sockets were told with the database after its subscriber
      // reconnects, and periodically); a task frame is simply missed.
      if (publisher.status !== 'ready') return;
      publisher.publish(channel(topic), JSON.stringify({ o: instanceId, m: message })).catch((err) => {
        log.debug('bus publish failed', { topic, err });
      });
    },
    deliverLocally: (topic, message) => fanout.deliver(topic, message, instanceId),
    subscribe(topic, handler) {
      if (!topics.has(topic)) {
        topics.add(topic);
        subscriber.subscribe(channel(topic)).catch((err) => log.warn('bus subscribe failed', { topic, err }));
      }
      return fanout.subscribe(topic, handler);
    },
    onReconnect(handler) {
      reconnectHandlers.add(handler);
      return () => reconnectHandlers.delete(handler);
    },
    async close() {
      reconnectHandlers.clear();
    },
  };
}
