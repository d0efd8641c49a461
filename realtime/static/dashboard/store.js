// What the page knows: loaded over REST, then kept current by WebSocket events.
//
// REST answers in snake_case and events in camelCase; both are turned into one shape here so
// the rendering code sees a single model.

import { migrationError, relayError } from "./messages.js";

export const COMPONENTS = [
  ["provider_independence", "Provider independence"],
  ["key_ownership", "Key ownership"],
  ["censorship_resistance", "Censorship resistance"],
  ["privacy", "Privacy"],
  ["portability", "Portability"],
];
export const COMPONENT_MAX = 20;
export const OPEN_MIGRATION_STATES = new Set(["pending", "verifying", "verified", "publishing"]);
const HISTORY_POINTS = 30;
const FEED_SIZE = 50;

// --- loading ---------------------------------------------------------------------------------

/** A section that failed to load keeps its error instead of failing the whole page. */
async function settle(promise) {
  try {
    return { value: await promise };
  } catch (error) {
    return { error };
  }
}

export async function loadScore(session, domainId) {
  const [current, history] = await Promise.all([
    session.api(`domains/${domainId}/score/`),
    session.api(`domains/${domainId}/scores/?limit=${HISTORY_POINTS}`),
  ]);
  return { current, history: history.results };
}

async function loadFamily(session, family) {
  const id = family.id;
  const [domains, guardians, notifications, pubkyDomains, migrations] = await Promise.all([
    settle(session.list(`domains/?family=${id}`)),
    settle(session.list(`families/${id}/guardians/`)),
    settle(session.api(`families/${id}/notifications/?limit=20`).then((d) => d.results)),
    settle(session.list(`pubky-domains/?family=${id}`)),
    settle(session.api(`migrations/?family=${id}&limit=50`).then((d) => d.results)),
  ]);
  const scores = await Promise.all(
    (domains.value || []).map((domain) => settle(loadScore(session, domain.id))),
  );
  return { family, domains, guardians, notifications, pubkyDomains, migrations, scores };
}

/** Everything the page shows, over REST: families first, then each family's parts at once. */
export async function loadSnapshot(session) {
  const [families, relays] = await Promise.all([
    session.list("families/?ordering=name"),
    settle(session.list("relays/")),
  ]);
  const parts = await Promise.all(families.map((family) => loadFamily(session, family)));
  return { families: parts, relays };
}

// --- normalising -----------------------------------------------------------------------------

const relayKey = (url) => String(url || "").replace(/\/+$/, "");

function relayFromRest(row) {
  return {
    url: relayKey(row.url),
    isUp: row.is_up,
    latencyMs: row.latency_ms,
    statusCode: row.last_status_code ?? null,
    error: row.last_error || "",
    lastCheckedAt: row.last_checked_at,
  };
}

function relayFromEvent(row) {
  return {
    url: relayKey(row.url),
    isUp: row.isUp,
    latencyMs: row.latencyMs,
    statusCode: row.statusCode ?? null,
    error: row.error || "",
    lastCheckedAt: row.lastCheckedAt,
  };
}

export function guardianFromRest(row) {
  return {
    id: row.id,
    name: row.name,
    status: row.status,
    backupStatus: row.pubky_backup_status,
    backupLastUpdated: row.pubky_backup_last_updated,
  };
}

export function pubkyFromRest(row) {
  return {
    id: row.id,
    status: row.status,
    keyCustody: row.key_custody,
    publicKey: row.public_key,
    pubkyUrl: row.pubky_url,
    lastPublishedAt: row.last_published_at,
  };
}

function migrationFromRest(row) {
  return {
    id: row.id,
    domainId: row.domain,
    direction: row.direction,
    state: row.state,
    approvalsRequired: row.approvals_required,
    approvals: (row.approvals || []).filter((a) => a.decision === "approved").length,
    challengeName: row.challenge_name || "",
    challengeValue: row.challenge_value || "",
    error: row.error || "",
    updatedAt: row.updated_at,
  };
}

function notificationItem(row) {
  return {
    key: `notification:${row.id}`,
    at: row.created_at || row.createdAt,
    title: row.title || row.kind,
    detail: row.message || "",
    tone: toneOf(row.kind),
  };
}

function toneOf(kind) {
  if (/down|failed|rejected|revoked|error/.test(kind || "")) return "bad";
  if (/up$|approved|completed|current/.test(kind || "")) return "good";
  if (/stale|pending|requested/.test(kind || "")) return "warn";
  return "info";
}

const DIRECTIONS = { dns_to_pubky: "DNS → Pubky", pubky_to_dns: "Pubky → DNS" };
export const directionLabel = (direction) => DIRECTIONS[direction] || direction;

// --- the store -------------------------------------------------------------------------------

export class Store {
  constructor() {
    this.families = []; // [{id, name, myRole, pubkyEnabled, errors: {...}}]
    this.domains = new Map(); // id -> domain
    this.guardians = new Map(); // familyId -> Map(id -> guardian)
    this.relays = new Map(); // url -> relay
    this.relayError = null;
    this.feed = []; // newest first
    this.feedKeys = new Set();
    this.removedDomains = new Set(); // deleted while open: a late REST answer must not revive them
  }

  /** Take a fresh REST snapshot (initial load, or a resync after missed events). */
  replace(snapshot) {
    this.families = [];
    this.domains = new Map();
    this.guardians = new Map();
    const notifications = [];
    for (const part of snapshot.families) {
      this.addFamily(part, notifications);
    }
    this.relays = new Map();
    this.relayError = snapshot.relays.error || null;
    for (const row of snapshot.relays.value || []) this.relays.set(relayKey(row.url), relayFromRest(row));
    const live = this.feed.filter((item) => !item.key.startsWith("notification:"));
    this.feed = [];
    this.feedKeys = new Set();
    for (const item of [...live, ...notifications].sort(byNewest).slice(0, FEED_SIZE)) {
      this.feed.push(item);
      this.feedKeys.add(item.key);
    }
  }

  addFamily(part, notifications) {
    const { family } = part;
    this.families.push({
      id: family.id,
      name: family.name,
      myRole: family.my_role,
      isGuardian: Boolean(family.is_guardian),
      pubkyEnabled: family.pubky_enabled,
      errors: {
        domains: part.domains.error || null,
        guardians: part.guardians.error || null,
      },
    });
    const pubkyById = new Map((part.pubkyDomains.value || []).map((p) => [p.id, pubkyFromRest(p)]));
    const migrations = (part.migrations.value || []).map(migrationFromRest);
    (part.domains.value || []).forEach((row, index) => {
      const domain = domainFromRest(row, family.id, part.scores[index]);
      domain.pubky = row.pubky_domain_id ? pubkyById.get(row.pubky_domain_id) || null : null;
      // Newest first from the API: the first one per domain is its latest.
      domain.migration = migrations.find((m) => m.domainId === row.id) || null;
      this.domains.set(row.id, domain);
    });
    this.guardians.set(
      family.id,
      new Map((part.guardians.value || []).map((g) => [g.id, guardianFromRest(g)])),
    );
    for (const row of part.notifications.value || []) notifications.push(notificationItem(row));
  }

  domainsOf(familyId) {
    return [...this.domains.values()]
      .filter((d) => d.familyId === familyId)
      .sort((a, b) => a.name.localeCompare(b.name));
  }

  guardiansOf(familyId) {
    const guardians = this.guardians.get(familyId) || new Map();
    return [...guardians.values()].sort((a, b) => a.name.localeCompare(b.name));
  }

  relayList() {
    return [...this.relays.values()].sort((a, b) => a.url.localeCompare(b.url));
  }

  /** What to follow live: every family, domain score, Pubky domain and open migration. */
  subscriptions() {
    const wanted = [{ key: "relays", value: true }];
    for (const family of this.families) wanted.push({ key: "familyId", value: family.id });
    for (const domain of this.domains.values()) {
      wanted.push({ key: "sovereigntyScoreDomainId", value: domain.id });
      if (domain.pubky) wanted.push({ key: "pubkyDomainId", value: domain.pubky.id });
      if (domain.migration && OPEN_MIGRATION_STATES.has(domain.migration.state)) {
        wanted.push({ key: "domainMigrationId", value: domain.migration.id });
      }
    }
    return wanted;
  }

  addFeed(item) {
    if (this.feedKeys.has(item.key)) return null;
    this.feed.unshift(item);
    this.feedKeys.add(item.key);
    while (this.feed.length > FEED_SIZE) this.feedKeys.delete(this.feed.pop().key);
    return item;
  }

  // --- events ---------------------------------------------------------------------------

  /**
   * Apply one pushed event. Returns what changed: {domain, family, relays, feed, fetch}; `fetch`
   * names something the event refers to that we do not have yet (a new migration).
   */
  apply(event) {
    const handler = {
      pubky_sovereignty_score: () => this.applyScore(event),
      pubky_relay_status: () => this.applyRelays(event),
      pubky_guardian_notification: () => this.applyFamilyNews(event),
      pubky_domain_update: () => this.applyPubkyDomain(event),
      domain_migration_update: () => this.applyMigration(event),
      domain_created: () => this.applyDomainCreated(event),
      domain_deleted: () => this.applyDomainDeleted(event),
      pubky_domain_created: () => this.applyPubkyDomain(event),
      pubky_domain_deleted: () => this.applyPubkyDomain(event),
      domain_migration_created: () => this.applyMigration(event),
      domain_migration_deleted: () => this.applyMigrationDeleted(event),
      guardian_created: () => this.applyGuardianListed(event),
      guardian_deleted: () => this.applyGuardianListed(event),
    }[event.type];
    return handler ? handler() : {};
  }

  // --- cards that come and go ---------------------------------------------------------------

  /** A domain created while the page is open: a card with what the event says; the score's
   * details and history are fetched (`fetchScore`). */
  applyDomainCreated({ event_id: eventId, data }) {
    if (!this.families.some((f) => f.id === data.familyId)) return {};
    if (this.removedDomains.has(data.id)) return {};
    const known = this.domains.get(data.id);
    if (known) {
      Object.assign(known, { name: data.name, status: data.status, visibility: data.visibility });
      return { domain: known };
    }
    const domain = newDomain({
      id: data.id,
      name: data.name,
      familyId: data.familyId,
      status: data.status,
      visibility: data.visibility,
      score: { total: data.sovereigntyScore },
    });
    this.domains.set(domain.id, domain);
    const feed = this.addFeed({
      key: `event:${eventId}`,
      at: data.createdAt || new Date().toISOString(),
      title: `Domain ${data.name} was added`,
      detail: "",
      tone: "good",
    });
    return { added: domain, feed, fetchScore: domain.id };
  }

  applyDomainDeleted({ event_id: eventId, data }) {
    this.removedDomains.add(data.id);
    const domain = this.domains.get(data.id);
    if (!domain) return {};
    this.domains.delete(data.id);
    const feed = this.addFeed({
      key: `event:${eventId}`,
      at: data.updatedAt || new Date().toISOString(),
      title: `Domain ${domain.name} was removed`,
      detail: "",
      tone: "warn",
    });
    return { removed: domain, feed };
  }

  /** A domain read over REST (one we heard of before we knew it): its card. */
  addDomainFromRest(row, score) {
    if (this.removedDomains.has(row.id) || this.domains.has(row.id)) return null;
    if (!this.families.some((f) => f.id === row.family)) return null;
    const domain = domainFromRest(row, row.family, score);
    this.domains.set(domain.id, domain);
    return domain;
  }

  /** The score and history of a new card, read over REST; a newer live score wins. */
  setScoreFromRest(domainId, loaded) {
    const domain = this.domains.get(domainId);
    if (!domain) return null;
    const current = scoreFromRest(loaded.current);
    const shown = Date.parse(domain.score.calculatedAt || "") || 0;
    if ((Date.parse(current.calculatedAt || "") || 0) >= shown) domain.score = current;
    const history = historyFromRest(loaded.history);
    const ids = new Set(history.map((p) => p.id));
    domain.history = [...history, ...domain.history.filter((p) => !ids.has(p.id))]
      .sort((a, b) => (Date.parse(a.at) || 0) - (Date.parse(b.at) || 0))
      .slice(-HISTORY_POINTS);
    domain.scoreError = null;
    return domain;
  }

  applyMigrationDeleted({ data }) {
    const domain = this.domains.get(data.domainId);
    if (!domain || !domain.migration || domain.migration.id !== data.id) return {};
    domain.migration = null;
    return { domain };
  }

  /** A guardian added or removed (the notification that comes with it fills the feed). */
  applyGuardianListed({ type, data }) {
    const guardians = this.guardians.get(data.familyId);
    if (!guardians) return {};
    if (type === "guardian_deleted") guardians.delete(data.id);
    else {
      guardians.set(data.id, {
        id: data.id,
        name: data.name,
        status: data.status,
        backupStatus: data.backupStatus,
        backupLastUpdated: data.backupLastUpdated,
      });
    }
    return { family: data.familyId };
  }

  // --- updates ------------------------------------------------------------------------------

  applyScore({ event_id: eventId, data }) {
    const domain = this.domains.get(data.domain);
    // A score for a domain this page has not seen yet (created before our subscription to
    // its family caught up, or while we were away): fetch the domain, then show it.
    if (!domain) return this.removedDomains.has(data.domain) ? {} : { fetchDomain: data.domain };
    const before = domain.score.total;
    domain.score = {
      total: data.total,
      components: data.components,
      // Events carry the components only; the explanation is fetched again (app.js).
      explanation: null,
      calculatedAt: data.calculated_at,
      reason: data.reason,
    };
    domain.scoreError = null;
    // Bulk recalculations store their rows with COPY and carry no score id: one point each.
    if (data.score_id == null || !domain.history.some((p) => p.id === data.score_id)) {
      domain.history.push({ id: data.score_id, total: data.total, at: data.calculated_at });
      domain.history = domain.history.slice(-HISTORY_POINTS);
    }
    const change = before === undefined ? "" : `${before} → `;
    const feed = this.addFeed({
      key: `event:${eventId}`,
      at: data.calculated_at,
      title: `${domain.name}: sovereignty score ${change}${data.total}`,
      detail: data.reason ? `Recalculated: ${data.reason.replace(/_/g, " ")}` : "Recalculated",
      tone: before !== undefined && data.total < before ? "warn" : "good",
    });
    return { domain, feed };
  }

  applyRelays({ event_id: eventId, data }) {
    const feedItems = [];
    for (const row of data.relays || []) {
      const relay = relayFromEvent(row);
      const before = this.relays.get(relay.url);
      this.relays.set(relay.url, relay);
      if (before && before.isUp !== relay.isUp && relay.isUp !== null) {
        feedItems.push(
          this.addFeed({
            key: `event:${eventId}:${relay.url}`,
            at: relay.lastCheckedAt || new Date().toISOString(),
            title: `Relay ${relay.url.replace(/^https?:\/\//, "")} is ${relay.isUp ? "up" : "down"}`,
            detail: relay.isUp ? "" : relayError(relay.error, relay.statusCode, relay.url).text,
            tone: relay.isUp ? "good" : "bad",
          }),
        );
      }
    }
    return { relays: true, feed: feedItems.filter(Boolean) };
  }

  applyFamilyNews({ event_id: eventId, data }) {
    if (data.guardian) return this.applyGuardian(eventId, data);
    const feed = this.addFeed(notificationItem(data));
    // A notification about a migration (new, approved, rejected): read it again, since the
    // approvals it counts are not in the migration's own events.
    const migrationId = data.payload && data.payload.migration_id;
    return { feed, fetch: migrationId ? { migrationId } : null };
  }

  applyGuardian(eventId, data) {
    const guardians = this.guardians.get(data.familyId);
    if (!guardians) return {};
    const row = data.guardian;
    const before = guardians.get(row.id);
    if (data.kind === "guardian_removed") guardians.delete(row.id);
    else {
      guardians.set(row.id, {
        id: row.id,
        name: row.name,
        status: row.status,
        backupStatus: row.backupStatus,
        backupLastUpdated: row.backupLastUpdated,
      });
    }
    const title = guardianNews(before, row, data.kind === "guardian_removed");
    const feed = this.addFeed({
      key: `event:${eventId}`,
      at: row.backupLastUpdated || new Date().toISOString(),
      title,
      detail: "",
      tone: toneOf(row.backupStatus === "current" ? "current" : row.backupStatus),
    });
    return { family: data.familyId, feed };
  }

  applyPubkyDomain({ data }) {
    const domain = [...this.domains.values()].find(
      (d) => d.id === data.domainId || (d.pubky && d.pubky.id === data.id),
    );
    if (!domain) return {};
    // Unlinked from this domain (moved, or the link cleared): this card no longer shows it.
    if (domain.id !== data.domainId && data.status !== "deleted") {
      domain.pubky = null;
      return { domain };
    }
    domain.pubky =
      data.status === "deleted"
        ? null
        : {
            id: data.id,
            status: data.status,
            keyCustody: data.keyCustody,
            publicKey: data.publicKey,
            pubkyUrl: data.pubkyUrl,
            lastPublishedAt: data.lastPublishedAt,
          };
    return { domain };
  }

  applyMigration({ event_id: eventId, data }) {
    const domain = this.domains.get(data.domainId);
    if (!domain) return {};
    const before = domain.migration;
    domain.migration = {
      ...(before && before.id === data.id ? before : {}),
      id: data.id,
      domainId: data.domainId,
      direction: data.direction,
      state: data.state,
      approvalsRequired: data.approvalsRequired,
      error: data.error || "",
      updatedAt: data.updatedAt,
    };
    const feed = this.addFeed({
      key: `event:${eventId}`,
      at: data.updatedAt,
      title: `${domain.name}: migration ${directionLabel(data.direction)} is ${data.state.replace("_", " ")}`,
      detail: migrationError(data.error).text,
      tone: toneOf(data.state),
    });
    return { domain, feed };
  }

  /** The explained score fetched over REST after an event that carried only the numbers. */
  setExplanation(domainId, current) {
    const domain = this.domains.get(domainId);
    if (!domain || domain.score.total !== current.total) return null;
    domain.score.explanation = current.explanation;
    return domain;
  }

  /** A migration fetched over REST after a notification named it. */
  addMigration(row) {
    const migration = migrationFromRest(row);
    const domain = this.domains.get(migration.domainId);
    if (!domain) return null;
    domain.migration = migration;
    return domain;
  }
}

function newDomain(fields) {
  return {
    pubky: null,
    migration: null,
    visibility: "private",
    scoreError: null,
    history: [],
    ...fields,
  };
}

function domainFromRest(row, familyId, score) {
  return newDomain({
    id: row.id,
    name: row.name,
    familyId,
    status: row.status,
    visibility: row.visibility,
    score: score && score.value ? scoreFromRest(score.value.current) : { total: row.sovereignty_score },
    scoreError: (score && score.error) || null,
    history: score && score.value ? historyFromRest(score.value.history) : [],
  });
}

function guardianNews(before, row, removed) {
  if (removed) return `Guardian ${row.name} was removed`;
  if (!before) return `Guardian ${row.name} was added`;
  if (before.status !== row.status) return `Guardian ${row.name} is now ${row.status}`;
  if (before.backupStatus !== row.backupStatus) {
    return `Guardian ${row.name}: backup ${row.backupStatus}`;
  }
  return `Guardian ${row.name} was updated`;
}

function byNewest(a, b) {
  return (Date.parse(b.at) || 0) - (Date.parse(a.at) || 0);
}

function scoreFromRest(current) {
  return {
    total: current.total,
    components: current.components,
    explanation: current.explanation,
    calculatedAt: current.calculated_at,
    reason: "",
  };
}

function historyFromRest(rows) {
  return rows
    .map((row) => ({ id: row.id, total: row.total, at: row.calculated_at }))
    .reverse(); // the API answers newest first; the chart reads left to right
}
