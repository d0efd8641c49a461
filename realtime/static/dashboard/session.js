// Signing in, keeping the access token fresh, and calling the REST API with it.
//
// Tokens live in memory and in sessionStorage (this tab only, gone when it closes), never in a
// cookie, so no other site can make the browser send them. The access token is refreshed a
// while before it expires; listeners (the WebSocket) get the new one to re-authenticate in-band.

const STORAGE_KEY = "pubky.dashboard.session";
const REQUEST_TIMEOUT_MS = 15000;

export class ApiError extends Error {
  constructor(status, message, { code = "", network = false, body = null } = {}) {
    super(message);
    this.status = status;
    this.code = code;
    this.network = network;
    this.body = body; // the error body as sent (a 400's field errors; forms.js reads them)
  }

  get isAuth() {
    return this.status === 401;
  }
}

/** The claims of a JWT (not verified: the server does that; we only read exp and iat). */
export function jwtClaims(token) {
  const part = (token || "").split(".")[1] || "";
  const base64 = part.replace(/-/g, "+").replace(/_/g, "/");
  try {
    return JSON.parse(atob(base64 + "=".repeat((4 - (base64.length % 4)) % 4)));
  } catch {
    return {};
  }
}

/** When to refresh: a quarter of the lifetime early, between 3 and 60 seconds. */
export function refreshLeadMs(lifetimeMs) {
  return Math.min(60000, Math.max(3000, lifetimeMs / 4));
}

async function request(url, { method = "GET", body, token } = {}) {
  const headers = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (token) headers.Authorization = `Bearer ${token}`;
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), REQUEST_TIMEOUT_MS);
  let response;
  try {
    response = await fetch(url, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: "omit", // JWT only: no session cookie rides along
      signal: abort.signal,
    });
  } catch {
    throw new ApiError(0, "The server cannot be reached.", { network: true });
  } finally {
    clearTimeout(timer);
  }
  if (response.status === 204) return null;
  const data = await response.json().catch(() => null);
  if (!response.ok) {
    const detail = (data && (data.detail || data.message)) || response.statusText;
    throw new ApiError(response.status, String(detail), { code: (data && data.code) || "", body: data });
  }
  return data;
}

function pathOf(url) {
  const parsed = new URL(url, window.location.href);
  return parsed.pathname + parsed.search;
}

export class Session {
  constructor({ tokenUrl, refreshUrl, logoutUrl, apiRoot }, storage = window.sessionStorage) {
    this.urls = { tokenUrl, refreshUrl, logoutUrl, apiRoot };
    this.storage = storage;
    this.state = null; // {access, refresh, username, expiresAt (local ms), lifetimeMs}
    this.refreshing = null;
    this.timer = null;
    this.listeners = { token: [], expired: [] };
    this.refreshCount = 0;
  }

  on(event, callback) {
    this.listeners[event].push(callback);
  }

  emit(event, value) {
    for (const callback of this.listeners[event]) callback(value);
  }

  get username() {
    return this.state ? this.state.username : "";
  }

  get signedIn() {
    return this.state !== null;
  }

  /** Pick up the tokens this tab already had (a reload); true when there were some. */
  restore() {
    try {
      const saved = JSON.parse(this.storage.getItem(STORAGE_KEY) || "null");
      if (saved && saved.refresh) {
        this.state = saved;
        this.schedule();
        return true;
      }
    } catch {
      this.storage.removeItem(STORAGE_KEY);
    }
    return false;
  }

  async login(username, password) {
    const tokens = await request(this.urls.tokenUrl, {
      method: "POST",
      body: { username, password },
    });
    this.store(tokens, username);
  }

  async logout() {
    const refresh = this.state && this.state.refresh;
    this.clear();
    if (refresh) {
      // Blacklist the refresh token; the short-lived access token simply expires.
      await request(this.urls.logoutUrl, { method: "POST", body: { refresh } }).catch(() => {});
    }
  }

  clear() {
    clearTimeout(this.timer);
    this.state = null;
    this.storage.removeItem(STORAGE_KEY);
  }

  store(tokens, username = this.username) {
    const claims = jwtClaims(tokens.access);
    const lifetimeMs = claims.exp && claims.iat ? (claims.exp - claims.iat) * 1000 : 300000;
    // Count from our own clock: a skewed client clock must not make us refresh late.
    this.state = {
      access: tokens.access,
      refresh: tokens.refresh || (this.state && this.state.refresh),
      username,
      lifetimeMs,
      expiresAt: Date.now() + lifetimeMs,
    };
    this.storage.setItem(STORAGE_KEY, JSON.stringify(this.state));
    this.schedule();
  }

  schedule() {
    clearTimeout(this.timer);
    if (!this.state) return;
    const due = this.state.expiresAt - refreshLeadMs(this.state.lifetimeMs) - Date.now();
    this.timer = setTimeout(() => this.refresh().catch(() => {}), Math.max(0, due));
  }

  /** A new access token (one refresh at a time: refresh tokens rotate and are single-use). */
  refresh() {
    if (!this.refreshing) {
      this.refreshing = this.doRefresh().finally(() => {
        this.refreshing = null;
      });
    }
    return this.refreshing;
  }

  async doRefresh() {
    if (!this.state) throw new ApiError(401, "Not signed in.");
    try {
      const tokens = await request(this.urls.refreshUrl, {
        method: "POST",
        body: { refresh: this.state.refresh },
      });
      this.store(tokens);
      this.refreshCount += 1;
      this.emit("token", tokens.access);
      return tokens.access;
    } catch (error) {
      if (error.status === 401 || error.status === 400) {
        this.clear();
        this.emit("expired", error);
      } else {
        // The server is unreachable or failing: try again soon, keep what we have.
        clearTimeout(this.timer);
        this.timer = setTimeout(() => this.refresh().catch(() => {}), 5000);
      }
      throw error;
    }
  }

  /** An access token valid for at least ``minMs`` more, refreshing first if needed. */
  async accessToken(minMs = 5000) {
    if (!this.state) throw new ApiError(401, "Not signed in.");
    if (this.state.expiresAt - Date.now() < minMs) return this.refresh();
    return this.state.access;
  }

  /** GET (or POST) an API path, refreshing the token once if the server refuses it. */
  async api(path, options = {}) {
    const url = path.startsWith("/") ? path : this.urls.apiRoot + path;
    try {
      return await request(url, { ...options, token: await this.accessToken() });
    } catch (error) {
      if (!error.isAuth || !this.state) throw error;
      return request(url, { ...options, token: await this.refresh() });
    }
  }

  /** Every row of a paginated list (following `next`, at most ``maxPages`` pages). */
  async list(path, maxPages = 10) {
    const rows = [];
    let next = path;
    for (let page = 0; next && page < maxPages; page += 1) {
      const data = await this.api(next);
      if (Array.isArray(data)) return data;
      rows.push(...data.results);
      // `next` is absolute; keep only its path so a proxy's scheme or host cannot mislead us.
      next = data.next ? pathOf(data.next) : null;
    }
    return rows;
  }
}
