// The /ws connection: subscribe, follow events, and come back by itself after any drop.
//
// Reconnects back off exponentially (with jitter) and resubscribe with `since`: the last
// event_id seen on that subscription, or, before any, the topic's `head` that the server's
// `subscribed` reply named, so the server replays what was missed from its outbox. (Never an
// event_id seen on another topic: ids are taken before commit, so a smaller id of this topic
// may commit later.) When it cannot (`recovered: false`, or nothing to resume from) the owner
// is told to refetch over REST. A ping that goes unanswered counts as a drop, so a dead network is
// noticed even when no close frame arrives.

const BACKOFF_BASE_MS = 500;
const BACKOFF_MAX_MS = 15000;
const PING_EVERY_MS = 20000;
const PONG_TIMEOUT_MS = 10000;
// The server allows 20 messages a second with a burst of 40; stay well inside that.
const SEND_RATE_PER_SECOND = 10;
const SEND_BURST = 20;

const CLOSE_UNAUTHORIZED = 4401;
const CLOSE_RATE_LIMITED = 4429;

/**
 * The subscription a pushed event belongs to ("key=value"), from its type and data: for servers
 * whose frames do not name their `topic` (newer ones do, and that is used first).
 */
export function subscriptionOf(event) {
  const data = event.data || {};
  switch (event.type) {
    case "pubky_relay_status":
      return "relays=true";
    case "pubky_sovereignty_score":
      return `sovereigntyScoreDomainId=${data.domain}`;
    case "pubky_guardian_notification":
      return `familyId=${data.familyId}`;
    case "pubky_domain_update":
      return `pubkyDomainId=${data.id}`;
    case "pkarr_record_update":
      return `pubkyDomainId=${data.pubkyDomainId}`;
    case "domain_migration_update":
      return `domainMigrationId=${data.id}`;
    default:
      // Created/deleted events of the family's cards travel on the family topic.
      if (/_(created|deleted)$/.test(event.type) && data.familyId !== undefined) {
        return `familyId=${data.familyId}`;
      }
      return null;
  }
}

export function backoffMs(attempt, random = Math.random) {
  const base = Math.min(BACKOFF_MAX_MS, BACKOFF_BASE_MS * 2 ** attempt);
  return Math.round(base * (0.8 + 0.4 * random()));
}

function keyOf(subscription) {
  return `${subscription.key}=${subscription.value}`;
}

export class LiveConnection {
  /**
   * @param {object} options
   * @param {string} options.url ws:// or wss:// URL of /ws (the token is added per connection)
   * @param {(fresh: boolean) => Promise<string>} options.token a valid access token (a newly
   *   refreshed one when ``fresh``)
   * @param {(event) => void} options.onEvent every pushed event
   * @param {(state) => void} options.onState {status, attempt, retryAt, ...}
   * @param {(reason) => void} options.onResync refetch over REST: events may have been missed
   * @param {(message) => void} options.onSubscriptionError a subscription was refused/revoked
   * @param {(error) => void} options.onAuthFailure no valid token can be had any more
   */
  constructor(options) {
    this.options = options;
    this.ws = null;
    this.opening = false;
    this.stopped = true;
    this.attempt = 0;
    this.retryTimer = null;
    this.pingTimer = null;
    this.pongTimer = null;
    this.wanted = new Map(); // "key=value" -> {key, value}
    this.active = new Set(); // "key=value" subscribed on this socket
    this.lastSeen = new Map(); // "key=value" -> last event_id seen for it
    this.topics = new Map(); // server topic (named in `subscribed` and in events) -> "key=value"
    this.maxSeen = 0; // the largest event_id seen on any topic (statistics only)
    this.connectedBefore = false;
    this.outbox = [];
    this.tokens = SEND_BURST;
    this.refilledAt = Date.now();
    this.pumpTimer = null;
    this.requestId = 0;
    this.stats = { connects: 0, reauths: 0, replayed: 0, recovered: [], closeCodes: [] };
    this.status = "idle";
    this.onOnline = () => this.retryNow();
    this.onOffline = () => this.dropped("the browser went offline");
    this.onVisible = () => {
      // Timers sleep in background tabs: on return, do not wait out a long backoff.
      if (document.visibilityState === "visible") this.retryNow();
    };
  }

  start() {
    if (!this.stopped) return;
    this.stopped = false;
    window.addEventListener("online", this.onOnline);
    window.addEventListener("offline", this.onOffline);
    document.addEventListener("visibilitychange", this.onVisible);
    this.connect();
  }

  stop() {
    this.stopped = true;
    window.removeEventListener("online", this.onOnline);
    window.removeEventListener("offline", this.onOffline);
    document.removeEventListener("visibilitychange", this.onVisible);
    clearTimeout(this.retryTimer);
    this.teardown();
    if (this.ws) this.ws.close(1000);
    this.ws = null;
    this.setState("stopped");
  }

  /** Reconnect now instead of waiting for the next attempt. */
  retryNow() {
    if (this.stopped || this.opening || (this.ws && this.ws.readyState <= WebSocket.OPEN)) return;
    clearTimeout(this.retryTimer);
    this.attempt = Math.min(this.attempt, 1);
    this.connect();
  }

  /** Subscribe to exactly these ({key, value}, …); the rest is unsubscribed. */
  setSubscriptions(list) {
    const next = new Map(list.map((s) => [keyOf(s), s]));
    for (const [key, subscription] of this.wanted) {
      if (!next.has(key)) {
        this.wanted.delete(key);
        this.lastSeen.delete(key);
        if (this.active.delete(key)) {
          this.send("unsubscribe", { [subscription.key]: subscription.value });
        }
      }
    }
    for (const [key, subscription] of next) {
      if (!this.wanted.has(key)) {
        this.wanted.set(key, subscription);
        if (this.status === "live") this.subscribe(key, false);
      }
    }
  }

  /** Send a fresh access token on the open socket (before the old one expires). */
  reauth(token) {
    if (this.status === "live") this.send("auth", { token }, `auth-${++this.requestId}`);
  }

  // --- connecting -------------------------------------------------------------------------

  async connect() {
    clearTimeout(this.retryTimer);
    if (this.stopped) return;
    if (navigator.onLine === false) {
      this.setState("offline");
      return;
    }
    this.setState(this.connectedBefore ? "reconnecting" : "connecting");
    let token;
    this.opening = true;
    try {
      token = await this.options.token(false);
    } catch (error) {
      if (error.isAuth) this.options.onAuthFailure(error);
      else this.scheduleRetry();
      return;
    } finally {
      this.opening = false;
    }
    if (this.stopped) return;
    const ws = new WebSocket(`${this.options.url}?token=${encodeURIComponent(token)}`);
    this.ws = ws;
    ws.onmessage = (message) => this.receive(ws, message.data);
    ws.onclose = (event) => {
      if (this.ws === ws) this.closed(event.code);
    };
  }

  closed(code) {
    this.stats.closeCodes.push(code);
    this.teardown();
    this.ws = null;
    if (this.stopped) return;
    if (code === CLOSE_UNAUTHORIZED) {
      // The token was refused (expired while we were away?): get a new one, then retry.
      this.options
        .token(true)
        .then(() => this.scheduleRetry(200))
        .catch((error) => (error.isAuth ? this.options.onAuthFailure(error) : this.scheduleRetry()));
      return;
    }
    this.scheduleRetry(code === CLOSE_RATE_LIMITED ? 10000 : 0);
  }

  /** The socket is gone but no close event came (offline, dead peer): give up on it now. */
  dropped(reason) {
    const ws = this.ws;
    if (!ws) {
      if (!this.stopped) this.setState(navigator.onLine === false ? "offline" : this.status);
      return;
    }
    this.ws = null;
    ws.onclose = null;
    ws.close();
    this.stats.closeCodes.push(reason);
    this.teardown();
    if (navigator.onLine === false) this.setState("offline");
    else this.scheduleRetry();
  }

  scheduleRetry(minimumMs = 0) {
    if (this.stopped) return;
    const delay = Math.max(minimumMs, backoffMs(this.attempt));
    this.attempt += 1;
    this.setState(this.connectedBefore ? "reconnecting" : "connecting", {
      retryAt: Date.now() + delay,
    });
    this.retryTimer = setTimeout(() => this.connect(), delay);
  }

  teardown() {
    clearInterval(this.pingTimer);
    clearTimeout(this.pongTimer);
    clearTimeout(this.pumpTimer);
    this.pumpTimer = null;
    this.outbox = [];
    this.active.clear();
  }

  setState(status, extra = {}) {
    this.status = status;
    this.options.onState({ status, attempt: this.attempt, ...extra });
  }

  // --- receiving --------------------------------------------------------------------------

  receive(ws, text) {
    let message;
    try {
      message = JSON.parse(text);
    } catch {
      return;
    }
    const messages = message.type === "batch" ? message.messages : [message];
    for (const one of messages) this.handle(ws, one);
  }

  handle(ws, message) {
    if (message.event_id !== undefined) {
      this.event(message);
      return;
    }
    switch (message.type) {
      case "authenticated":
        if (message.id) this.stats.reauths += 1;
        else this.opened(ws);
        break;
      case "subscribed":
        this.subscribed(message);
        break;
      case "pong":
        clearTimeout(this.pongTimer);
        break;
      case "pubky_subscription_error":
        this.subscriptionError(message);
        break;
      default:
        break;
    }
  }

  opened(ws) {
    const resuming = this.connectedBefore;
    this.connectedBefore = true;
    this.attempt = 0;
    this.stats.connects += 1;
    this.setState("live");
    this.pingTimer = setInterval(() => this.ping(ws), PING_EVERY_MS);
    let unknownGap = false;
    for (const key of this.wanted.keys()) unknownGap = !this.subscribe(key, resuming) || unknownGap;
    if (resuming && unknownGap) this.options.onResync("no event to resume from");
  }

  /** Send one subscribe; false when resuming but there is no event_id to resume from. */
  subscribe(key, resuming) {
    const subscription = this.wanted.get(key);
    const data = { [subscription.key]: subscription.value };
    const since = this.lastSeen.get(key);
    if (resuming && since !== undefined) data.since = since;
    this.active.add(key);
    this.send("subscribe", data, `sub:${key}`);
    return !resuming || since !== undefined;
  }

  subscribed(message) {
    const key = (message.id || "").replace(/^sub:/, "");
    if (key && message.data.topic) this.topics.set(message.data.topic, key);
    if (message.data.recovered !== undefined) {
      this.stats.recovered.push(message.data.recovered);
      this.stats.replayed += message.data.replayed || 0;
      if (message.data.recovered === false) this.options.onResync("the server's history is gone");
    }
    // A fresh subscription is up to date to its topic's head (servers that send one): that is
    // where it resumes from if it sees no event before the next drop.
    if (key && Number.isInteger(message.data.head) && this.wanted.has(key)) {
      this.lastSeen.set(key, Math.max(this.lastSeen.get(key) || 0, message.data.head));
    }
  }

  subscriptionError(message) {
    const key = (message.id || "").replace(/^sub:/, "");
    if (key) this.active.delete(key);
    this.options.onSubscriptionError(message.data || {});
  }

  event(message) {
    // The server replays exactly what followed `since` and never sends an event twice on one
    // socket, so nothing is dropped here: we only remember how far each subscription got.
    const key = this.topics.get(message.topic) || subscriptionOf(message);
    if (key) this.lastSeen.set(key, Math.max(this.lastSeen.get(key) || 0, message.event_id));
    this.maxSeen = Math.max(this.maxSeen, message.event_id);
    this.options.onEvent(message);
  }

  ping(ws) {
    if (ws !== this.ws) return;
    this.send("ping", {});
    clearTimeout(this.pongTimer);
    this.pongTimer = setTimeout(() => this.dropped("no pong"), PONG_TIMEOUT_MS);
  }

  // --- sending (paced under the server's rate limit) ---------------------------------------

  send(type, data, id) {
    const message = { type, data };
    if (id !== undefined) message.id = id;
    this.outbox.push(JSON.stringify(message));
    this.pump();
  }

  pump() {
    const now = Date.now();
    this.tokens = Math.min(
      SEND_BURST,
      this.tokens + ((now - this.refilledAt) / 1000) * SEND_RATE_PER_SECOND,
    );
    this.refilledAt = now;
    while (this.outbox.length && this.tokens >= 1 && this.ws && this.ws.readyState === 1) {
      this.ws.send(this.outbox.shift());
      this.tokens -= 1;
    }
    if (this.outbox.length && !this.pumpTimer) {
      this.pumpTimer = setTimeout(() => {
        this.pumpTimer = null;
        this.pump();
      }, 1000 / SEND_RATE_PER_SECOND);
    }
  }
}
