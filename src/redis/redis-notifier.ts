import type { Notifier } from '../bus/notifier.ts'
import { SessionSignal, type StopSignal } from '../bus/session-signal.ts'
import type { RedisLink } from './redis-link.ts'

/**
 * Wake-ups across instances. The append script publishes `<session id> <seq>` on one channel; this instance's one
 * subscriber (RedisSubscriber) hands each message's session to an in-process SessionSignal, which wakes only the local streams
 * of that session (a message for a session without local viewers costs a map look-up), and fans out as before.
 */
export class RedisNotifier implements Notifier {
  readonly #local = new SessionSignal()

  constructor(
    private readonly link: RedisLink,
    private readonly channel: string,
  ) {}

  /** Wakes the local streams of a session named by a message of the wake channel. */
  received(sessionId: string): void {
    this.#local.notify(sessionId)
  }

  /** Wakes every local stream: after a reconnection, when wake-ups may have been missed; each re-reads its cursor. */
  wakeAll(): void {
    this.#local.notifyAll()
  }

  /**
   * Publishes to every instance (this one included, through its subscriber); best effort, like every wake-up. The
   * message carries no seq, so every instance also forgets what it kept of the session (its log changed: pruned).
   */
  notify(sessionId: string): void {
    this.link.send('PUBLISH', [this.channel, sessionId]).catch(() => {})
  }

  wait(sessionId: string, signal: StopSignal, timeoutMs?: number): Promise<boolean> {
    return this.#local.wait(sessionId, signal, timeoutMs)
  }
}
