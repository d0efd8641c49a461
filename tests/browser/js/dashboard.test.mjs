// Unit tests of the dashboard's pure parts, run with node's own test runner by
// tests/browser/test_scripts.py (which puts the modules next to this file first).

import assert from "node:assert/strict";
import { test } from "node:test";

import { LiveConnection, backoffMs, subscriptionOf } from "./dashboard/live.js";
import { apiProblem, countOf, migrationError, relayError } from "./dashboard/messages.js";
import { jwtClaims, refreshLeadMs } from "./dashboard/session.js";
import { Store } from "./dashboard/store.js";

// --- a fake browser for LiveConnection ---------------------------------------------------------

class FakeSocket {
  static all = [];
  static OPEN = 1;

  constructor(url) {
    this.url = url;
    this.readyState = 0;
    this.sent = [];
    FakeSocket.all.push(this);
  }

  send(text) {
    this.sent.push(JSON.parse(text));
  }

  close() {
    this.readyState = 3;
  }

  // what the server does
  open() {
    this.readyState = 1;
    this.push({ type: "authenticated", data: { userId: 1, expiresAt: 0 } });
  }

  push(message) {
    this.onmessage({ data: JSON.stringify(message) });
  }

  drop(code = 1006) {
    this.readyState = 3;
    this.onclose({ code });
  }

  subscribes() {
    return this.sent.filter((m) => m.type === "subscribe");
  }
}

globalThis.WebSocket = FakeSocket;
globalThis.window = { addEventListener() {}, removeEventListener() {} };
globalThis.document = { addEventListener() {}, removeEventListener() {}, visibilityState: "visible" };
if (!globalThis.navigator) globalThis.navigator = { onLine: true }; // Node 20 has none

function connection(overrides = {}) {
  const calls = { events: [], states: [], resyncs: [] };
  const live = new LiveConnection({
    url: "ws://test/ws",
    token: async () => "tok",
    onEvent: (event) => calls.events.push(event),
    onState: (state) => calls.states.push(state.status),
    onResync: (reason) => calls.resyncs.push(reason),
    onSubscriptionError: () => {},
    onAuthFailure: () => {},
    ...overrides,
  });
  return { live, calls };
}

const tick = () => new Promise((resolve) => setTimeout(resolve, 0));

async function opened(live) {
  FakeSocket.all = [];
  live.start();
  await tick();
  const socket = FakeSocket.all.at(-1);
  socket.open();
  return socket;
}

test("it subscribes to everything wanted once the socket is authenticated", async () => {
  const { live } = connection();
  live.setSubscriptions([
    { key: "relays", value: true },
    { key: "sovereigntyScoreDomainId", value: 7 },
  ]);
  const socket = await opened(live);
  assert.equal(socket.url, "ws://test/ws?token=tok");
  assert.deepEqual(
    socket.subscribes().map((m) => m.data),
    [{ relays: true }, { sovereigntyScoreDomainId: 7 }],
  );
  live.stop();
});

test("it resubscribes with since = the last event of each subscription after a drop", async () => {
  const { live, calls } = connection();
  live.setSubscriptions([
    { key: "relays", value: true },
    { key: "sovereigntyScoreDomainId", value: 7 },
    { key: "familyId", value: 3 },
  ]);
  const first = await opened(live);
  for (const [id, topic, head] of [
    ["relays=true", "relays", 30],
    ["sovereigntyScoreDomainId=7", "sovereigntyScore.7", 12],
    ["familyId=3", "family.3", 25],
  ]) {
    first.push({ type: "subscribed", id: `sub:${id}`, data: { topic, head } });
  }
  first.push({ type: "pubky_sovereignty_score", event_id: 40, topic: "sovereigntyScore.7", data: { domain: 7 } });
  first.push({ type: "pubky_relay_status", event_id: 42, topic: "relays", data: { relays: [] } });
  first.drop();
  assert.equal(live.status, "reconnecting");
  live.retryNow();
  await tick();
  const second = FakeSocket.all.at(-1);
  second.open();
  const since = Object.fromEntries(
    second.subscribes().map((m) => [Object.keys(m.data)[0], m.data.since]),
  );
  // Each from its own last event; one with none of its own from its topic's head.
  assert.deepEqual(since, { relays: 42, sovereigntyScoreDomainId: 40, familyId: 25 });
  assert.deepEqual(calls.resyncs, []);
  assert.equal(live.stats.connects, 2);
  live.stop();
});

test("a subscription without events never resumes from another topic's larger event_id", async () => {
  // Event ids are taken before commit: family.3's event 41 may commit after relays' event 42
  // was seen. Resuming family.3 from 42 would skip 41; resuming from its head (35) does not.
  const { live, calls } = connection();
  live.setSubscriptions([
    { key: "relays", value: true },
    { key: "familyId", value: 3 },
  ]);
  const first = await opened(live);
  first.push({ type: "subscribed", id: "sub:relays=true", data: { topic: "relays", head: 10 } });
  first.push({ type: "subscribed", id: "sub:familyId=3", data: { topic: "family.3", head: 35 } });
  first.push({ type: "pubky_relay_status", event_id: 42, topic: "relays", data: { relays: [] } });
  first.drop();
  live.retryNow();
  await tick();
  const second = FakeSocket.all.at(-1);
  second.open();
  const family = second.subscribes().find((m) => "familyId" in m.data);
  assert.equal(family.data.since, 35);
  // The replay brings 41, which then counts as seen on family.3 only.
  second.push({ type: "subscribed", id: "sub:familyId=3", data: { topic: "family.3", recovered: true, replayed: 1 } });
  second.push({ type: "domain_created", event_id: 41, topic: "family.3", data: { id: 9, familyId: 3 } });
  assert.equal(live.lastSeen.get("familyId=3"), 41);
  assert.equal(live.lastSeen.get("relays=true"), 42);
  assert.deepEqual(calls.resyncs, []);
  live.stop();
});

test("an empty topic's head of 0 is resumed from as since 0, not as a refetch", async () => {
  const { live, calls } = connection();
  live.setSubscriptions([{ key: "domainMigrationId", value: 5 }]);
  const first = await opened(live);
  first.push({ type: "subscribed", id: "sub:domainMigrationId=5", data: { topic: "domainMigration.5", head: 0 } });
  first.drop();
  live.retryNow();
  await tick();
  const second = FakeSocket.all.at(-1);
  second.open();
  assert.deepEqual(second.subscribes()[0].data, { domainMigrationId: 5, since: 0 });
  assert.deepEqual(calls.resyncs, []);
  live.stop();
});

test("an event that arrives before its subscribed reply is not undone by a smaller head", async () => {
  const { live } = connection();
  live.setSubscriptions([{ key: "familyId", value: 3 }]);
  const socket = await opened(live);
  socket.push({ type: "domain_created", event_id: 50, topic: "family.3", data: { id: 1, familyId: 3 } });
  socket.push({ type: "subscribed", id: "sub:familyId=3", data: { topic: "family.3", head: 49 } });
  assert.equal(live.lastSeen.get("familyId=3"), 50);
  live.stop();
});

test("created and deleted events belong to their family's subscription", () => {
  assert.equal(subscriptionOf({ type: "domain_created", data: { id: 4, familyId: 2 } }), "familyId=2");
  assert.equal(subscriptionOf({ type: "dns_record_deleted", data: { id: 4, familyId: 2 } }), "familyId=2");
});

test("events are filed under the topic their subscribed reply named", async () => {
  const { live } = connection();
  live.setSubscriptions([{ key: "sovereigntyScoreDomainId", value: 7 }]);
  const socket = await opened(live);
  socket.push({
    type: "subscribed",
    id: "sub:sovereigntyScoreDomainId=7",
    data: { entity: "sovereigntyScore", id: 7, topic: "score.7" },
  });
  socket.push({ type: "pubky_sovereignty_score", event_id: 90, topic: "score.7", data: {} });
  assert.equal(live.lastSeen.get("sovereigntyScoreDomainId=7"), 90);
  live.stop();
});

test("it asks for a REST refresh when the server's history is gone", async () => {
  const { live, calls } = connection();
  live.setSubscriptions([{ key: "relays", value: true }]);
  const socket = await opened(live);
  socket.push({ type: "subscribed", id: "sub:relays=true", data: { recovered: false } });
  assert.equal(calls.resyncs.length, 1);
  live.stop();
});

test("it asks for a REST refresh when it reconnects with no event to resume from", async () => {
  const { live, calls } = connection();
  live.setSubscriptions([{ key: "relays", value: true }]);
  const first = await opened(live);
  first.drop();
  live.retryNow();
  await tick();
  FakeSocket.all.at(-1).open();
  assert.deepEqual(FakeSocket.all.at(-1).subscribes()[0].data, { relays: true });
  assert.equal(calls.resyncs.length, 1);
  live.stop();
});

test("it unsubscribes what is no longer wanted and sends a fresh token in-band", async () => {
  const { live } = connection();
  live.setSubscriptions([
    { key: "relays", value: true },
    { key: "domainMigrationId", value: 5 },
  ]);
  const socket = await opened(live);
  live.setSubscriptions([{ key: "relays", value: true }]);
  live.reauth("fresh");
  const [unsubscribe, auth] = socket.sent.slice(-2);
  assert.deepEqual(unsubscribe, { type: "unsubscribe", data: { domainMigrationId: 5 } });
  assert.equal(auth.type, "auth");
  assert.deepEqual(auth.data, { token: "fresh" });
  socket.push({ type: "authenticated", id: auth.id, data: {} });
  assert.equal(live.stats.reauths, 1);
  live.stop();
});

test("events in batch frames are delivered one by one", async () => {
  const { live, calls } = connection();
  live.setSubscriptions([{ key: "relays", value: true }]);
  const socket = await opened(live);
  socket.push({
    type: "batch",
    messages: [
      { type: "pubky_relay_status", event_id: 1, data: { relays: [] } },
      { type: "pubky_relay_status", event_id: 2, data: { relays: [] } },
    ],
  });
  assert.deepEqual(
    calls.events.map((e) => e.event_id),
    [1, 2],
  );
  live.stop();
});

test("the backoff doubles from half a second up to fifteen, with jitter", () => {
  const middle = () => 0.5;
  assert.deepEqual(
    [0, 1, 2, 3, 4, 5, 6].map((n) => backoffMs(n, middle)),
    [500, 1000, 2000, 4000, 8000, 15000, 15000],
  );
  assert.equal(backoffMs(0, () => 0), 400);
  assert.equal(backoffMs(0, () => 1), 600);
});

test("each pushed event names the subscription it belongs to", () => {
  assert.equal(subscriptionOf({ type: "pubky_relay_status", data: {} }), "relays=true");
  assert.equal(
    subscriptionOf({ type: "pkarr_record_update", data: { pubkyDomainId: 4 } }),
    "pubkyDomainId=4",
  );
  assert.equal(
    subscriptionOf({ type: "pubky_guardian_notification", data: { familyId: 2 } }),
    "familyId=2",
  );
  assert.equal(subscriptionOf({ type: "unknown", data: {} }), null);
});

// --- session --------------------------------------------------------------------------------

test("a token's claims are read and refreshed a quarter of its life early", () => {
  const payload = Buffer.from(JSON.stringify({ exp: 1300, iat: 1000 })).toString("base64url");
  assert.deepEqual(jwtClaims(`x.${payload}.y`), { exp: 1300, iat: 1000 });
  assert.deepEqual(jwtClaims("garbage"), {});
  assert.equal(refreshLeadMs(300000), 60000);
  assert.equal(refreshLeadMs(15000), 3750);
  assert.equal(refreshLeadMs(4000), 3000);
});

// --- store ----------------------------------------------------------------------------------

function snapshot() {
  const family = { id: 1, name: "Rivera", my_role: "owner", pubky_enabled: true };
  const ok = (value) => ({ value });
  return {
    relays: ok([
      { url: "http://relay/", is_up: true, latency_ms: 5, last_error: "", last_checked_at: null },
    ]),
    families: [
      {
        family,
        domains: ok([{ id: 7, name: "rivera.example", status: "active", pubky_domain_id: 9 }]),
        guardians: ok([{ id: 3, name: "Rosa", status: "active", pubky_backup_status: "current" }]),
        notifications: ok([{ id: 1, kind: "relay_down", title: "Relay down", created_at: "2026-01-01T00:00:00Z" }]),
        pubkyDomains: ok([{ id: 9, status: "active", key_custody: "family", public_key: "k" }]),
        migrations: ok([{ id: 5, domain: 7, direction: "dns_to_pubky", state: "verifying", approvals: [] }]),
        scores: [
          ok({
            current: { total: 40, components: { privacy: 6 }, explanation: {}, calculated_at: null },
            history: [
              { id: 2, total: 40, calculated_at: "2026-01-02T00:00:00Z" },
              { id: 1, total: 30, calculated_at: "2026-01-01T00:00:00Z" },
            ],
          }),
        ],
      },
    ],
  };
}

test("the store follows every family, score, Pubky domain, open migration and the relays", () => {
  const store = new Store();
  store.replace(snapshot());
  assert.deepEqual(store.subscriptions(), [
    { key: "relays", value: true },
    { key: "familyId", value: 1 },
    { key: "sovereigntyScoreDomainId", value: 7 },
    { key: "pubkyDomainId", value: 9 },
    { key: "domainMigrationId", value: 5 },
  ]);
  assert.deepEqual(
    store.domains.get(7).history.map((p) => p.total),
    [30, 40],
  );
  assert.equal(store.feed[0].title, "Relay down");
});

test("a score event updates the domain, its history and the feed", () => {
  const store = new Store();
  store.replace(snapshot());
  const event = {
    type: "pubky_sovereignty_score",
    event_id: 50,
    data: {
      domain: 7,
      score_id: 3,
      total: 52,
      components: { privacy: 14 },
      reason: "guardian_backup_status",
      calculated_at: "2026-01-03T00:00:00Z",
    },
  };
  const change = store.apply(event);
  const domain = store.domains.get(7);
  assert.equal(change.domain, domain);
  assert.equal(domain.score.total, 52);
  assert.equal(domain.score.components.privacy, 14);
  assert.deepEqual(
    domain.history.map((p) => p.total),
    [30, 40, 52],
  );
  assert.equal(change.feed.title, "rivera.example: sovereignty score 40 → 52");
  assert.equal(change.feed.detail, "Recalculated: guardian backup status");
  // The same event again (a replay overlapping what was seen) is not added twice.
  assert.equal(store.apply(event).feed, null);
  assert.equal(domain.history.length, 3);
});

test("a relay going down is news; a latency change only updates the row", () => {
  const store = new Store();
  store.replace(snapshot());
  const quiet = store.apply({
    type: "pubky_relay_status",
    event_id: 60,
    data: { relays: [{ url: "http://relay", isUp: true, latencyMs: 9 }] },
  });
  assert.deepEqual(quiet.feed, []);
  assert.equal(store.relays.get("http://relay").latencyMs, 9);
  const down = store.apply({
    type: "pubky_relay_status",
    event_id: 61,
    data: { relays: [{ url: "http://relay", isUp: false, error: "timeout" }] },
  });
  assert.equal(down.feed[0].title, "Relay relay is down");
  assert.equal(down.feed[0].tone, "bad");
});

test("guardian updates change the list; a notification naming an unknown migration asks for it", () => {
  const store = new Store();
  store.replace(snapshot());
  const guardian = store.apply({
    type: "pubky_guardian_notification",
    event_id: 70,
    data: {
      kind: "guardian_updated",
      familyId: 1,
      guardian: { id: 3, name: "Rosa", status: "active", backupStatus: "stale" },
    },
  });
  assert.equal(guardian.family, 1);
  assert.equal(store.guardiansOf(1)[0].backupStatus, "stale");
  assert.equal(guardian.feed.title, "Guardian Rosa: backup stale");
  const notification = store.apply({
    type: "pubky_guardian_notification",
    event_id: 71,
    data: { id: 2, familyId: 1, kind: "migration_requested", title: "Approve", payload: { migration_id: 99 } },
  });
  assert.deepEqual(notification.fetch, { migrationId: 99 });
});

test("a finished migration is no longer followed", () => {
  const store = new Store();
  store.replace(snapshot());
  store.apply({
    type: "domain_migration_update",
    event_id: 80,
    data: { id: 5, domainId: 7, direction: "dns_to_pubky", state: "completed" },
  });
  assert.ok(!store.subscriptions().some((s) => s.key === "domainMigrationId"));
});

// --- cards that come and go ------------------------------------------------------------------

test("a domain created while the page is open becomes a card, in name order, and its score is fetched", () => {
  const store = new Store();
  store.replace(snapshot());
  const change = store.apply({
    type: "domain_created",
    event_id: 60,
    data: { id: 8, familyId: 1, name: "a-first.example", status: "active", visibility: "private", sovereigntyScore: 20 },
  });
  assert.equal(change.added.id, 8);
  assert.equal(change.fetchScore, 8);
  assert.equal(change.feed.title, "Domain a-first.example was added");
  assert.deepEqual(store.domainsOf(1).map((d) => d.name), ["a-first.example", "rivera.example"]);
  assert.equal(store.domains.get(8).score.total, 20);
  assert.ok(store.subscriptions().some((s) => s.key === "sovereigntyScoreDomainId" && s.value === 8));
  // The same event again (a replay) changes nothing.
  assert.equal(store.apply({ type: "domain_created", event_id: 60, data: { id: 8, familyId: 1, name: "a-first.example" } }).added, undefined);
  assert.equal(store.domainsOf(1).length, 2);
});

test("a domain of a family this page does not show is ignored", () => {
  const store = new Store();
  store.replace(snapshot());
  assert.deepEqual(store.apply({ type: "domain_created", event_id: 61, data: { id: 9, familyId: 99, name: "x" } }), {});
});

test("a deleted domain loses its card and is not revived by a late answer", () => {
  const store = new Store();
  store.replace(snapshot());
  const change = store.apply({ type: "domain_deleted", event_id: 62, data: { id: 7, familyId: 1, name: "rivera.example" } });
  assert.equal(change.removed.id, 7);
  assert.deepEqual(store.domainsOf(1), []);
  assert.ok(!store.subscriptions().some((s) => s.key === "sovereigntyScoreDomainId" && s.value === 7));
  assert.equal(store.addDomainFromRest({ id: 7, family: 1, name: "rivera.example" }, null), null);
  assert.deepEqual(store.apply({ type: "pubky_sovereignty_score", event_id: 63, data: { domain: 7 } }), {});
});

test("a score for a domain the page does not know asks for that domain", () => {
  const store = new Store();
  store.replace(snapshot());
  const change = store.apply({ type: "pubky_sovereignty_score", event_id: 64, data: { domain: 12, total: 50 } });
  assert.deepEqual(change, { fetchDomain: 12 });
  const domain = store.addDomainFromRest({ id: 12, family: 1, name: "b.example", status: "active", sovereignty_score: 50 }, null);
  assert.equal(domain.score.total, 50);
  assert.deepEqual(store.domainsOf(1).map((d) => d.id), [12, 7]);
});

test("a newer live score is not overwritten by the slower REST answer for a new card", () => {
  const store = new Store();
  store.replace(snapshot());
  store.apply({ type: "domain_created", event_id: 65, data: { id: 8, familyId: 1, name: "n.example", sovereigntyScore: 0 } });
  store.apply({
    type: "pubky_sovereignty_score",
    event_id: 66,
    data: { domain: 8, score_id: 31, total: 55, components: {}, calculated_at: "2026-01-03T00:00:00Z" },
  });
  store.setScoreFromRest(8, {
    current: { total: 35, components: {}, explanation: {}, calculated_at: "2026-01-02T00:00:00Z" },
    history: [{ id: 30, total: 35, calculated_at: "2026-01-02T00:00:00Z" }],
  });
  const domain = store.domains.get(8);
  assert.equal(domain.score.total, 55);
  assert.deepEqual(domain.history.map((p) => p.id), [30, 31]);
});

test("Pubky domains, migrations and guardians come and go with their cards", () => {
  const store = new Store();
  store.replace(snapshot());
  store.apply({ type: "pubky_domain_deleted", event_id: 70, data: { id: 9, domainId: 7, familyId: 1, status: "deleted" } });
  assert.equal(store.domains.get(7).pubky, null);
  store.apply({ type: "pubky_domain_created", event_id: 71, data: { id: 10, domainId: 7, familyId: 1, status: "draft", keyCustody: "service" } });
  assert.equal(store.domains.get(7).pubky.id, 10);
  assert.ok(store.subscriptions().some((s) => s.key === "pubkyDomainId" && s.value === 10));
  store.apply({ type: "domain_migration_deleted", event_id: 72, data: { id: 5, domainId: 7, familyId: 1, state: "deleted" } });
  assert.equal(store.domains.get(7).migration, null);
  store.apply({
    type: "domain_migration_created",
    event_id: 73,
    data: { id: 6, domainId: 7, familyId: 1, direction: "dns_to_pubky", state: "pending", error: "" },
  });
  assert.equal(store.domains.get(7).migration.id, 6);
  assert.ok(store.subscriptions().some((s) => s.key === "domainMigrationId" && s.value === 6));
  const added = store.apply({ type: "guardian_created", event_id: 74, data: { id: 4, familyId: 1, name: "Ana", status: "active", backupStatus: "none" } });
  assert.equal(added.family, 1);
  assert.deepEqual(store.guardiansOf(1).map((g) => g.name), ["Ana", "Rosa"]);
  store.apply({ type: "guardian_deleted", event_id: 75, data: { id: 3, familyId: 1, name: "Rosa", status: "removed" } });
  assert.deepEqual(store.guardiansOf(1).map((g) => g.name), ["Ana"]);
});

// --- plain words ----------------------------------------------------------------------------

test("relay failures read in plain words, keeping the library's text as detail", () => {
  const raw =
    "HTTPConnectionPool(host='127.0.0.1', port=15411): Max retries exceeded with url: / " +
    "(Caused by NewConnectionError('Failed to establish a new connection: [Errno 111] Connection refused'))";
  assert.deepEqual(relayError(raw), {
    text: "The relay did not answer (connection refused: it is not running or not accepting connections).",
    detail: raw,
  });
  assert.equal(
    relayError(raw, null, "http://127.0.0.1:15411/").text,
    "The relay at 127.0.0.1:15411 did not answer (connection refused: it is not running or not accepting connections).",
  );
  assert.equal(relayError("ReadTimeout: read timed out").text, "The relay did not answer in time (timed out).");
  assert.equal(relayError("HTTP 503").text, "The relay had a problem on its side (HTTP 503).");
  assert.equal(relayError("", 429).text, "The relay is limiting requests for now (too many requests).");
  assert.equal(relayError("").text, "");
});

test("migration failures read in plain words", () => {
  const mismatch = migrationError(
    '_pubky-challenge.a.example TXT does not hold the challenge token of migration 5 (found no TXT record); publish TXT "x" there and verify again',
  );
  assert.match(mismatch.text, /^The DNS check did not find the challenge record yet/);
  assert.match(migrationError("DNS lookup of a.example TXT timed out").text, /^DNS could not be checked/);
  assert.match(
    migrationError("ConnectionError: HTTPConnectionPool(host='x'): Max retries exceeded").text,
    /^A Pubky relay or homeserver could not be reached/,
  );
  assert.deepEqual(migrationError("ValueError: the key is not valid"), {
    text: "the key is not valid",
    detail: "ValueError: the key is not valid",
  });
});

test("counts are singular for one", () => {
  assert.equal(countOf(1, "guardian approval"), "1 guardian approval");
  assert.equal(countOf(2, "guardian approval"), "2 guardian approvals");
  assert.equal(countOf(0, "Pubky domain"), "0 Pubky domains");
});

test("API failures read in plain words: limits, relays, server trouble", () => {
  assert.equal(apiProblem({ network: true }), "The server cannot be reached. Check your connection and try again.");
  assert.equal(
    apiProblem({ status: 429, message: "Request was throttled. Expected available in 12 seconds." }),
    "Too many requests just now. Wait a minute, then try again.",
  );
  assert.equal(
    apiProblem({
      status: 502,
      message: "no relay stored the packet of a.example: http://127.0.0.1:15411: HTTPConnectionPool(host='127.0.0.1', port=15411): Max retries exceeded ([Errno 111] Connection refused)",
    }),
    "A Pubky relay or homeserver did not answer (connection refused: it is not running or not accepting connections), so this could not be done now. Try again in a few minutes.",
  );
  assert.equal(apiProblem({ status: 500, message: "Server error." }), "The server had a problem. Try again in a moment.");
  assert.equal(apiProblem({ status: 409, message: "a.example is already on Pubky" }), "The server answered 409: a.example is already on Pubky");
  assert.equal(apiProblem({ status: 403, message: "You may not change this domain." }), "You may not change this domain.");
});
