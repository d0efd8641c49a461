// The live dashboard: sign in, load over REST, then follow /ws. Wires session, store, live
// connection and view together; each of those lives in its own module.

import { Actions } from "./actions.js";
import { refreshTimes } from "./dom.js";
import { LiveConnection } from "./live.js";
import { apiProblem } from "./messages.js";
import { RelayHistory, attachChartsPanels } from "./panels.js";
import { View } from "./render.js";
import { ApiError, Session } from "./session.js";
import { Store, guardianFromRest, loadScore, loadSnapshot } from "./store.js";

const config = document.body.dataset;
const session = new Session({
  tokenUrl: config.tokenUrl,
  refreshUrl: config.refreshUrl,
  logoutUrl: config.logoutUrl,
  apiRoot: config.apiRoot,
});
const view = new View(document);
const relayHistory = new RelayHistory(document.getElementById("relay-history"), session);
let store = new Store();
let live = null;
let loading = null;
let reloadAgain = false;

// What tests and support read: a fresh id per page load (a reload changes it) and counters.
const debug = {
  loadId: `${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}`,
  restLoads: 0,
  resyncs: 0,
  events: 0,
  get tokenRefreshes() {
    return session.refreshCount;
  },
  get live() {
    return live ? { status: live.status, maxSeen: live.maxSeen, ...live.stats } : null;
  },
};
Object.defineProperty(window, "dashboardDebug", { value: debug });

function wsUrl() {
  const scheme = window.location.protocol === "https:" ? "wss:" : "ws:";
  return `${scheme}//${window.location.host}${config.wsPath}`;
}

function describe(error) {
  if (error instanceof ApiError) return apiProblem(error);
  return String(error && error.message ? error.message : error);
}

// --- signing in and out ------------------------------------------------------------------------

async function onLogin(event) {
  event.preventDefault();
  const username = view.el.username.value.trim();
  const password = view.el.password.value;
  if (!username || !password) {
    view.loginError("Enter your username and password.");
    return;
  }
  view.loginBusy(true);
  view.loginError("");
  try {
    await session.login(username, password);
  } catch (error) {
    view.loginBusy(false);
    view.loginError(loginMessage(error));
    view.el.password.select();
    return;
  }
  startDashboard();
}

function loginMessage(error) {
  if (error.status === 401) return "Wrong username or password.";
  if (error.status === 429) return "Too many attempts. Wait a minute, then try again.";
  if (error.network) return "The server cannot be reached. Check your connection and try again.";
  return `Signing in failed (${error.status}). Try again in a moment.`;
}

async function onLogout() {
  stopLive();
  await session.logout();
  store = new Store();
  view.showLogin("");
}

function sessionEnded() {
  stopLive();
  session.clear();
  store = new Store();
  view.showLogin("Your session ended. Sign in again to keep watching.");
}

// --- data --------------------------------------------------------------------------------------

function startDashboard() {
  view.showDashboard(session.username);
  reload();
}

/** Load everything over REST (once at a time; a request made meanwhile runs after). */
function reload() {
  if (loading) {
    reloadAgain = true;
    return loading;
  }
  loading = (async () => {
    do {
      reloadAgain = false;
      await loadOnce();
    } while (reloadAgain && session.signedIn);
  })().finally(() => {
    loading = null;
  });
  return loading;
}

async function loadOnce() {
  debug.restLoads += 1;
  if (!view.hasContent()) view.showLoading();
  try {
    const snapshot = await loadSnapshot(session);
    const next = new Store();
    next.feed = store.feed;
    next.feedKeys = store.feedKeys;
    next.replace(snapshot);
    store = next;
    view.hideError();
    view.renderAll(store);
    relayHistory.load();
    // Live updates start once there is something on screen for them to update.
    if (live) live.setSubscriptions(store.subscriptions());
    else if (session.signedIn) startLive();
  } catch (error) {
    if (error instanceof ApiError && error.isAuth) {
      sessionEnded();
      return;
    }
    if (view.hasContent()) view.showError(`Could not refresh your dashboard. ${describe(error)}`);
    else view.showLoadFailure(describe(error));
  }
}

async function fetchMigration(migrationId) {
  try {
    showMigration(await session.api(`migrations/${migrationId}/`));
  } catch {
    // Not readable or gone: the notification in the feed still says what happened.
  }
}

/** A migration as the API answered it (read, or just changed by an action). */
function showMigration(row) {
  const domain = store.addMigration(row);
  if (domain) {
    view.updateDomain(domain);
    if (live) live.setSubscriptions(store.subscriptions());
  }
}

async function fetchPubky(pubkyDomainId) {
  try {
    showPubky(await session.api(`pubky-domains/${pubkyDomainId}/`));
  } catch {
    // Not readable or gone: the card shows what the event said.
  }
}

/** A Pubky domain as the API answered it (registered or republished from this page). */
function showPubky(row) {
  const change = store.applyPubkyDomain({
    data: {
      id: row.id,
      domainId: row.domain,
      status: row.status,
      keyCustody: row.key_custody,
      publicKey: row.public_key,
      pubkyUrl: row.pubky_url,
      lastPublishedAt: row.last_published_at,
    },
  });
  if (change.domain) {
    view.updateDomain(change.domain);
    if (live) live.setSubscriptions(store.subscriptions());
  }
}

/** A guardian as the API answered it (invited, activated or removed from this page). */
function showGuardian(row) {
  const guardians = store.guardians.get(row.family);
  if (!guardians) return;
  guardians.set(row.id, guardianFromRest(row));
  view.updateGuardians(store, row.family);
}

const explaining = new Map(); // domain id -> timer

/** Fetch "why this score" for a domain whose score just changed (once per burst of events). */
function explainLater(domainId) {
  clearTimeout(explaining.get(domainId));
  explaining.set(
    domainId,
    setTimeout(async () => {
      explaining.delete(domainId);
      try {
        const current = await session.api(`domains/${domainId}/score/`);
        const domain = store.setExplanation(domainId, current);
        if (domain) view.updateExplanation(domain);
      } catch {
        // The numbers are on screen already; the explanation comes with the next load.
      }
    }, 300),
  );
}

// --- live --------------------------------------------------------------------------------------

function startLive() {
  stopLive();
  live = new LiveConnection({
    url: wsUrl(),
    token: (fresh) => (fresh ? session.refresh() : session.accessToken()),
    onEvent,
    onState: (state) => view.setConnection(state),
    onResync: () => {
      debug.resyncs += 1;
      reload();
    },
    onSubscriptionError: (data) => {
      if (data.code === "forbidden" || data.code === "not_found") reload();
      else if (data.code === "limit_exceeded") {
        view.showError("Live updates are limited: this page follows only the first items.");
      }
    },
    onAuthFailure: sessionEnded,
  });
  live.setSubscriptions(store.subscriptions());
  live.start();
}

function stopLive() {
  relayHistory.stop();
  if (live) live.stop();
  live = null;
}

/** The score details and history of a card that arrived live (the event has the total). */
async function fetchScore(domainId) {
  const current = store;
  try {
    const loaded = await loadScore(session, domainId);
    if (store !== current) return; // reloaded meanwhile: the new snapshot has it
    const domain = store.setScoreFromRest(domainId, loaded);
    if (domain) view.updateDomain(domain);
  } catch {
    // The card shows the total; the details come with the next event or load.
  }
}

const fetchingDomains = new Set();

/** A score event named a domain we do not know yet: read it, then add its card. */
async function fetchDomain(domainId) {
  if (fetchingDomains.has(domainId)) return;
  fetchingDomains.add(domainId);
  const current = store;
  try {
    const [row, score] = await Promise.all([
      session.api(`domains/${domainId}/`),
      loadScore(session, domainId).then(
        (value) => ({ value }),
        (error) => ({ error }),
      ),
    ]);
    if (store !== current) return;
    const domain = store.addDomainFromRest(row, score);
    if (domain) {
      view.renderDomains(store, domain.familyId, domain.id);
      if (live) live.setSubscriptions(store.subscriptions());
    }
  } catch {
    // Not readable (or gone): nothing to show.
  } finally {
    fetchingDomains.delete(domainId);
  }
}

const LIFECYCLE = /_(created|deleted)$/;

function onEvent(event) {
  debug.events += 1;
  const change = store.apply(event);
  if (change.added) view.renderDomains(store, change.added.familyId, change.added.id);
  if (change.removed) view.renderDomains(store, change.removed.familyId);
  if (change.fetchScore) fetchScore(change.fetchScore);
  if (change.fetchDomain) fetchDomain(change.fetchDomain);
  if (change.domain) view.updateDomain(change.domain);
  if (change.family) view.updateGuardians(store, change.family);
  if (change.relays) {
    view.renderRelays(store, true);
    relayHistory.refreshSoon();
  }
  const items = [change.feed].flat().filter(Boolean);
  if (items.length) view.prependFeed(items);
  if (change.fetch) fetchMigration(change.fetch.migrationId);
  if (change.domain && !change.domain.score.explanation && event.type === "pubky_sovereignty_score") {
    explainLater(change.domain.id);
  }
  // A migration that finished is not followed any more; a new one is, as are new cards' topics.
  if (event.type === "domain_migration_update" || LIFECYCLE.test(event.type)) {
    live.setSubscriptions(store.subscriptions());
  }
  // A new Pubky domain or migration is followed from now on: read it once, so that what
  // changed between its creation and this subscription (published, verified) shows too.
  if (event.type === "pubky_domain_created") fetchPubky(event.data.id);
  if (event.type === "domain_migration_created") fetchMigration(event.data.id);
}

// --- start -------------------------------------------------------------------------------------

new Actions({
  session,
  app: {
    store: () => store,
    showDomain: (row) => fetchDomain(row.id),
    showMigration,
    showPubky,
    showGuardian,
    refreshScore: (domainId) => fetchScore(domainId),
    refreshMigration: (migrationId) => fetchMigration(migrationId),
  },
}).install();

session.on("token", (token) => {
  if (live) live.reauth(token);
});
session.on("expired", sessionEnded);
view.el.loginForm.addEventListener("submit", onLogin);
view.el.logout.addEventListener("click", onLogout);
view.el.bannerRetry.addEventListener("click", () => reload());
view.el.families.addEventListener("click", (event) => {
  if (event.target.closest("[data-action=retry]")) reload();
});
view.el.connRetry.addEventListener("click", () => live && live.retryNow());
attachChartsPanels(view.el.families, session);
setInterval(() => refreshTimes(document), 30000);

if (session.restore()) startDashboard();
else view.showLogin("");
