import { CloseCodes } from '../../protocol/frames';
import type { UserPrivate } from '../../protocol/schemas';
import { fetchMe, login, RequestError, UnauthorizedError, UnreachableError } from './api';
import { byId, show } from './dom';

/**
 * Signing in and out: the login form, the token kept in sessionStorage for this tab, and the
 * return to the form when the token runs out or the server ends the session. What a session
 * brings (the live socket, the online list) is started and stopped by the hooks.
 */

export interface Session {
  token: string;
  /** ms since epoch */
  expiresAt: number;
  /** Filled in by GET /users/me once the server answers. */
  me?: UserPrivate;
}

/** Why a session ended: the token ran out, the server revoked it, or the user signed out. */
export type SessionEnd = 'expired' | 'revoked' | 'signed_out';

export interface SessionHooks {
  /** A session begins (any previous one is over): reset what belonged to the old one. */
  started(session: Session): void;
  /** The server accepted the token (or cannot be asked yet): go live. */
  accepted(session: Session): void;
  /** The session is over; the login form is showing. */
  ended(): void;
  /** Something shown about the session changed (e.g. the user's name arrived). */
  changed(): void;
}

const SESSION_KEY = 'hive.session';
const SIGN_IN_AGAIN = 'Sign in again to see who is online.';

/** The note above the login form after a session ended; none after signing out. */
export function endNote(reason: SessionEnd): string | undefined {
  if (reason === 'expired') return `Your session has expired. ${SIGN_IN_AGAIN}`;
  if (reason === 'revoked') return `You were signed out because your account changed. ${SIGN_IN_AGAIN}`;
  return undefined;
}

/** The session end a WebSocket close code with advice `sign_in` means. */
export function endReasonFor(closeCode: number): SessionEnd {
  return closeCode === CloseCodes.sessionRevoked.code ? 'revoked' : 'expired';
}

/** What the login form says when signing in fails. */
export function loginErrorText(err: unknown): string {
  if (err instanceof UnauthorizedError) return 'Wrong email or password.';
  if (err instanceof UnreachableError) return 'Cannot reach the server. Try again in a moment.';
  if (err instanceof RequestError && err.status === 429)
    return 'Too many attempts. Wait a minute and try again.';
  if (err instanceof RequestError) return err.message;
  return 'Sign-in failed.';
}

/** The stored session of this tab, if any and well-formed (only token and expiry are kept). */
export function readSession(storage: Pick<Storage, 'getItem'>): Session | undefined {
  try {
    const raw = storage.getItem(SESSION_KEY);
    if (!raw) return undefined;
    const parsed = JSON.parse(raw) as Partial<Session> | null;
    return typeof parsed?.token === 'string' && typeof parsed.expiresAt === 'number'
      ? { token: parsed.token, expiresAt: parsed.expiresAt }
      : undefined;
  } catch {
    return undefined;
  }
}

export function writeSession(storage: Pick<Storage, 'setItem' | 'removeItem'>, session?: Session): void {
  try {
    if (session) {
      storage.setItem(SESSION_KEY, JSON.stringify({ token: session.token, expiresAt: session.expiresAt }));
    } else {
      storage.removeItem(SESSION_KEY);
    }
  } catch {
    // storage disabled: the session lasts as long as the page
  }
}

export class SessionPanel {
  private session: Session | undefined;
  private note: string | undefined;
  private expiryTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(private readonly hooks: SessionHooks) {}

  get current(): Session | undefined {
    return this.session;
  }

  /** Wire the form, then resume the tab's stored session if it is still valid. */
  start(): void {
    this.wireForm();
    byId('sign-out').addEventListener('click', () => this.end('signed_out'));
    const saved = readSession(sessionStorage);
    if (saved && saved.expiresAt > Date.now()) {
      void this.begin(saved);
      return;
    }
    if (saved) {
      writeSession(sessionStorage);
      this.note = endNote('expired');
    }
    this.render();
  }

  async begin(session: Session): Promise<void> {
    this.session = session;
    this.note = undefined;
    writeSession(sessionStorage, session);
    this.scheduleExpiry(session);
    this.hooks.started(session);
    this.render();
    try {
      session.me = await fetchMe(session.token);
    } catch (err) {
      if (err instanceof UnauthorizedError) return this.end('expired');
      // Unreachable: carry on, the socket retries and the name fills in later.
    }
    if (this.session !== session) return;
    this.render();
    this.hooks.accepted(session);
  }

  end(reason: SessionEnd): void {
    clearTimeout(this.expiryTimer);
    this.session = undefined;
    writeSession(sessionStorage);
    this.note = endNote(reason);
    this.hooks.ended();
    this.render();
    if (reason !== 'signed_out') byId<HTMLInputElement>('login-password').value = '';
  }

  /** After a reconnect: the name could not be read at sign-in, try again. */
  async fillInName(): Promise<void> {
    const session = this.session;
    if (!session || session.me) return;
    try {
      session.me = await fetchMe(session.token);
      if (this.session === session) this.render();
    } catch {
      // the next reconnect tries again
    }
  }

  render(): void {
    const signedIn = this.session !== undefined;
    show(byId('login-form'), !signedIn);
    show(byId('team-body'), signedIn);
    const note = byId('login-note');
    note.textContent = signedIn ? '' : (this.note ?? '');
    show(note, !signedIn && this.note !== undefined);
    if (this.session) byId('me-name').textContent = this.session.me?.full_name ?? '…';
    this.hooks.changed();
  }

  /** Back to the login form when the token runs out (setTimeout caps at ~24.8 days, so re-arm). */
  private scheduleExpiry(session: Session): void {
    clearTimeout(this.expiryTimer);
    const left = session.expiresAt - Date.now();
    this.expiryTimer = setTimeout(
      () => {
        if (this.session !== session) return;
        if (Date.now() >= session.expiresAt) this.end('expired');
        else this.scheduleExpiry(session);
      },
      Math.max(0, Math.min(left, 2 ** 31 - 1)),
    );
  }

  private wireForm(): void {
    const form = byId<HTMLFormElement>('login-form');
    const email = byId<HTMLInputElement>('login-email');
    const password = byId<HTMLInputElement>('login-password');
    const error = byId('login-error');
    const submit = byId<HTMLButtonElement>('login-submit');
    form.addEventListener('submit', async (event) => {
      event.preventDefault();
      show(error, false);
      if (!email.value.trim() || !password.value) {
        error.textContent = 'Enter your email and password.';
        show(error, true);
        return;
      }
      submit.disabled = true;
      submit.textContent = 'Signing in…';
      try {
        const { token, expiresIn } = await login(email.value.trim(), password.value);
        password.value = '';
        await this.begin({ token, expiresAt: Date.now() + expiresIn * 1000 });
      } catch (err) {
        error.textContent = loginErrorText(err);
        show(error, true);
      } finally {
        submit.disabled = false;
        submit.textContent = 'Sign in';
      }
    });
  }
}
