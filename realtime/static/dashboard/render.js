// Drawing the store into the page. Each part (a domain card, a family's guardians, the relays,
// the feed) can be redrawn on its own, so a live event touches only what it changed.

import { clockTime, flash, h, hostOf, latency, replaceChildren, shortKey, svg, timeEl } from "./dom.js";
import { countOf, migrationError, relayError } from "./messages.js";
import { chartsPanel, keepChartsPanel } from "./panels.js";
import { COMPONENT_MAX, COMPONENTS, OPEN_MIGRATION_STATES, directionLabel } from "./store.js";

const BACKUP_LABELS = {
  none: ["No backup", "muted"],
  pending: ["Backup pending", "info"],
  current: ["Backup current", "good"],
  stale: ["Backup stale", "warn"],
  failed: ["Backup failed", "bad"],
};
const PUBKY_TONES = { active: "good", draft: "info", error: "bad", disabled: "muted" };
// Where the actions (actions.js) put their controls; null parts draw nothing, so the page
// reads the same to those who may not act.
export const hooks = { domain: null, family: null, guardians: null, guardian: null };

const ROLE_LABELS = { owner: "Owner", admin: "Admin", member: "Member", viewer: "Viewer" };

function badge(text, tone = "muted", title = "") {
  return h("span", { class: `badge ${tone}`, title: title || null }, text);
}

function emptyState(title, text) {
  return h("div", { class: "empty" }, h("p", { class: "empty-title" }, title), h("p", {}, text));
}

function sectionError(what, error) {
  const reason = error.status ? `HTTP ${error.status}: ${error.message}` : error.message;
  return h("p", { class: "inline-error", role: "alert" }, `Could not load ${what}. ${reason}`);
}

export function gradeOf(total) {
  if (total >= 70) return "good";
  if (total >= 40) return "warn";
  return "bad";
}

// --- score -------------------------------------------------------------------------------------

function componentBars(domain) {
  const components = domain.score.components || {};
  return h(
    "ul",
    { class: "components", "aria-label": "Score components" },
    COMPONENTS.map(([name, label]) => {
      const value = components[name] ?? 0;
      const fill = h("span", { class: "fill" });
      fill.style.width = `${(100 * value) / COMPONENT_MAX}%`;
      return h(
        "li",
        { class: "component", "data-component": name },
        h("span", { class: "component-label", id: `c-${domain.id}-${name}` }, label),
        h(
          "span",
          {
            class: "bar",
            role: "meter",
            "aria-labelledby": `c-${domain.id}-${name}`,
            "aria-valuemin": 0,
            "aria-valuemax": COMPONENT_MAX,
            "aria-valuenow": value,
            "aria-valuetext": `${value} of ${COMPONENT_MAX}`,
          },
          fill,
        ),
        h("span", { class: "component-value" }, `${value}`, h("span", { class: "of" }, `/${COMPONENT_MAX}`)),
      );
    }),
  );
}

/** A small inline-SVG line chart of the total over the stored calculations. */
export function sparkline(history) {
  const width = 240;
  const height = 48;
  const pad = 4;
  const points = history.length === 1 ? [history[0], history[0]] : history;
  if (!points.length) return h("p", { class: "muted small" }, "No history yet");
  const x = (i) => pad + (i * (width - 2 * pad)) / Math.max(1, points.length - 1);
  const y = (total) => height - pad - ((height - 2 * pad) * total) / 100;
  const line = points.map((p, i) => `${x(i).toFixed(1)},${y(p.total).toFixed(1)}`).join(" ");
  const area = `${x(0).toFixed(1)},${height - pad} ${line} ${x(points.length - 1).toFixed(1)},${height - pad}`;
  const last = points[points.length - 1];
  const label = `Score history: ${history.map((p) => p.total).join(", ")}`;
  return svg(
    "svg",
    {
      class: "sparkline",
      viewBox: `0 0 ${width} ${height}`,
      preserveAspectRatio: "none",
      role: "img",
      "aria-label": label,
      "data-points": history.length,
    },
    svg("title", {}, label),
    svg("line", { class: "grid", x1: pad, x2: width - pad, y1: y(50), y2: y(50) }),
    svg("polygon", { class: "area", points: area }),
    svg("polyline", { class: "line", points: line }),
    svg("circle", { class: "dot", cx: x(points.length - 1), cy: y(last.total), r: 3 }),
  );
}

function explanation(domain) {
  const explained = domain.score.explanation;
  if (!explained) return null;
  return h(
    "details",
    { class: "why" },
    h("summary", {}, "Why this score"),
    h(
      "dl",
      {},
      COMPONENTS.map(([name, label]) => {
        const part = explained[name];
        if (!part) return null;
        return [
          h("dt", {}, `${label} · ${part.points}/${part.max}`),
          h(
            "dd",
            {},
            h(
              "ul",
              {},
              part.rules.map((rule) =>
                h(
                  "li",
                  { class: rule.holds ? "holds" : "misses" },
                  h("span", { class: "rule-mark", "aria-hidden": "true" }, rule.holds ? "✓" : "–"),
                  `${rule.rule} `,
                  h("span", { class: "muted" }, `(${rule.points}/${rule.max})`),
                ),
              ),
            ),
          ),
        ];
      }),
    ),
  );
}

// --- domain card -------------------------------------------------------------------------------

function domainBadges(domain) {
  const badges = [];
  if (domain.pubky) {
    badges.push(badge(`Pubky · ${domain.pubky.status}`, PUBKY_TONES[domain.pubky.status] || "muted"));
    badges.push(
      badge(domain.pubky.keyCustody === "family" ? "Self-custody key" : "Key held by service", "muted"),
    );
  } else {
    badges.push(badge("DNS only", "muted", "Not published on Pubky"));
  }
  const migration = domain.migration;
  const migrating = migration && OPEN_MIGRATION_STATES.has(migration.state);
  if (domain.status && domain.status !== "active" && !(migrating && domain.status === "migrating")) {
    badges.push(badge(domain.status, "warn"));
  }
  if (migrating) {
    badges.push(
      badge(`Migrating ${directionLabel(migration.direction)} · ${migration.state}`, "info"),
    );
  }
  return h("div", { class: "badges" }, badges);
}

function migrationLine(domain) {
  const migration = domain.migration;
  if (!migration) return null;
  const open = OPEN_MIGRATION_STATES.has(migration.state);
  const parts = [`Migration ${directionLabel(migration.direction)}: `];
  parts.push(h("strong", { class: "migration-state" }, migration.state.replace("_", " ")));
  if (open && migration.approvalsRequired) {
    parts.push(` · ${migration.approvals || 0} of ${countOf(migration.approvalsRequired, "guardian approval")}`);
  }
  if (migration.error) {
    const { text, detail } = migrationError(migration.error);
    parts.push(h("span", { class: "bad-text migration-error", title: detail || null }, ` · ${text}`));
  }
  return h(
    "p",
    { class: `meta migration ${open ? "open" : ""}` },
    parts,
    migration.updatedAt ? [" · ", timeEl(migration.updatedAt, "updated")] : null,
  );
}

function pubkyLine(domain) {
  if (!domain.pubky) return null;
  return h(
    "p",
    { class: "meta" },
    h("span", { class: "key", title: domain.pubky.publicKey }, `pk:${shortKey(domain.pubky.publicKey)}`),
    " · ",
    domain.pubky.lastPublishedAt ? timeEl(domain.pubky.lastPublishedAt, "published") : "not published yet",
  );
}

export function domainCard(domain) {
  const total = domain.score.total ?? 0;
  const grade = gradeOf(total);
  return h(
    "article",
    { class: "card domain", id: `domain-${domain.id}`, "aria-labelledby": `domain-${domain.id}-name` },
    h(
      "header",
      { class: "domain-head" },
      h("div", { class: "domain-title" }, h("h4", { id: `domain-${domain.id}-name` }, domain.name), domainBadges(domain)),
      h(
        "div",
        { class: `score grade-${grade}`, role: "group", "aria-label": `Sovereignty score ${total} of 100` },
        h("span", { class: "score-value", "data-score": total }, String(total)),
        h("span", { class: "score-of" }, "/100"),
      ),
    ),
    domain.scoreError ? sectionError("the score", domain.scoreError) : componentBars(domain),
    h(
      "div",
      { class: "history" },
      sparkline(domain.history),
      h("p", { class: "muted small" }, domain.score.calculatedAt ? timeEl(domain.score.calculatedAt, "scored") : "not scored yet"),
    ),
    explanation(domain),
    chartsPanel(domain),
    pubkyLine(domain),
    migrationLine(domain),
    hooks.domain ? hooks.domain(domain) : null,
  );
}

// --- guardians, relays, feed --------------------------------------------------------------------

function guardianRow(guardian, family) {
  const [label, tone] = BACKUP_LABELS[guardian.backupStatus] || [guardian.backupStatus, "muted"];
  return h(
    "li",
    { class: "guardian", id: `guardian-${guardian.id}` },
    h("span", { class: "avatar", "aria-hidden": "true" }, (guardian.name || "?").slice(0, 1).toUpperCase()),
    h(
      "div",
      { class: "guardian-main" },
      h("span", { class: "guardian-name" }, guardian.name),
      h("span", { class: "muted small" }, guardian.status === "active" ? "Active guardian" : `Guardian · ${guardian.status}`),
    ),
    h(
      "div",
      { class: "guardian-backup" },
      badge(label, tone),
      guardian.backupLastUpdated ? h("span", { class: "muted small" }, timeEl(guardian.backupLastUpdated, "updated")) : null,
    ),
    hooks.guardian ? hooks.guardian(guardian, family) : null,
  );
}

export function guardianList(family, guardians) {
  if (family.errors.guardians) return sectionError("the guardians", family.errors.guardians);
  const invite = hooks.guardians ? hooks.guardians(family) : null;
  if (!guardians.length) {
    return [emptyState("No guardians yet", "Guardians keep backups of the family's keys and approve migrations."), invite];
  }
  return [h("ul", { class: "guardians" }, guardians.map((g) => guardianRow(g, family))), invite];
}

function relayRow(relay) {
  let state = "unknown";
  let text = "Unknown";
  if (relay.isUp === true) {
    state = "up";
    text = `Up · ${latency(relay.latencyMs)}`;
  } else if (relay.isUp === false) {
    state = "down";
    text = "Down";
  }
  const checked = relay.lastCheckedAt ? timeEl(relay.lastCheckedAt, "checked") : "not checked yet";
  return h(
    "li",
    { class: `relay ${state}`, "data-url": relay.url, "data-state": state },
    h("span", { class: `status-dot ${state}`, "aria-hidden": "true" }),
    h(
      "div",
      { class: "relay-main" },
      h("span", { class: "relay-host", title: relay.url }, hostOf(relay.url)),
      h(
        "span",
        { class: "relay-detail muted small" },
        checked,
        state === "down" && (relay.error || relay.statusCode) ? relayProblem(relay) : null,
      ),
    ),
    h("span", { class: "relay-state" }, text),
  );
}

function relayProblem(relay) {
  const { text, detail } = relayError(relay.error, relay.statusCode);
  return h("span", { class: "bad-text relay-error", title: detail || null }, ` · ${text}`);
}

function relaySummary(relays) {
  const up = relays.filter((r) => r.isUp === true).length;
  const down = relays.filter((r) => r.isUp === false).length;
  if (!up && !down) return ["not checked yet", "muted"];
  return [`${up} of ${relays.length} up`, down ? (up ? "warn" : "bad") : "good"];
}

function feedItem(item) {
  return h(
    "li",
    { class: `feed-item ${item.tone}`, "data-key": item.key },
    h("span", { class: `feed-dot ${item.tone}`, "aria-hidden": "true" }),
    h(
      "div",
      { class: "feed-body" },
      h("p", { class: "feed-title" }, item.title),
      item.detail ? h("p", { class: "feed-detail" }, item.detail) : null,
      timeEl(item.at),
    ),
  );
}

// --- the page ----------------------------------------------------------------------------------

const CONNECTION_TEXT = {
  idle: "Not connected",
  connecting: "Connecting…",
  live: "Live",
  reconnecting: "Reconnecting…",
  offline: "Offline",
  stopped: "Not connected",
};

export class View {
  constructor(doc = document) {
    const $ = (id) => doc.getElementById(id);
    this.el = {
      login: $("login-view"),
      loginForm: $("login-form"),
      loginError: $("login-error"),
      loginButton: $("login-submit"),
      username: $("username"),
      password: $("password"),
      dashboard: $("dashboard-view"),
      families: $("families"),
      relays: $("relays"),
      relaySummary: $("relay-summary"),
      feed: $("feed"),
      feedEmpty: $("feed-empty"),
      banner: $("error-banner"),
      bannerText: $("error-text"),
      bannerRetry: $("error-retry"),
      connBanner: $("conn-banner"),
      connText: $("conn-banner-text"),
      connRetry: $("conn-retry"),
      conn: $("conn"),
      connLabel: $("conn-label"),
      user: $("user"),
      userName: $("user-name"),
      logout: $("logout"),
      updated: $("last-update"),
      title: $("dashboard-title"),
    };
    this.countdown = null;
    this.lostAt = null;
  }

  // --- views ----------------------------------------------------------------------------

  showLogin(message = "") {
    this.el.dashboard.hidden = true;
    this.el.user.hidden = true;
    this.el.conn.hidden = true;
    this.el.connBanner.hidden = true;
    this.hideError();
    this.el.login.hidden = false;
    this.el.password.value = "";
    this.loginBusy(false);
    this.loginError(message);
    document.title = "Sign in · Pubky domains";
    (this.el.username.value ? this.el.password : this.el.username).focus();
  }

  showDashboard(username) {
    this.el.login.hidden = true;
    this.el.dashboard.hidden = false;
    this.el.user.hidden = false;
    this.el.conn.hidden = false;
    this.el.userName.textContent = username;
    document.title = "Live dashboard · Pubky domains";
    this.el.families.setAttribute("aria-busy", "true");
    this.el.title.focus(); // the sign-in button just disappeared; start reading from here
  }

  loginBusy(busy) {
    this.el.loginButton.disabled = busy;
    this.el.loginButton.textContent = busy ? "Signing in…" : "Sign in";
  }

  loginError(message) {
    this.el.loginError.textContent = message;
    this.el.loginError.hidden = !message;
    this.el.password.setAttribute("aria-invalid", message ? "true" : "false");
  }

  showError(message) {
    this.el.bannerText.textContent = message;
    this.el.banner.hidden = false;
  }

  hideError() {
    this.el.banner.hidden = true;
  }

  /** True once families (or the no-families state) are on screen. */
  hasContent() {
    return Boolean(this.el.families.querySelector(".family, .empty-page"));
  }

  showLoading() {
    this.el.families.setAttribute("aria-busy", "true");
    replaceChildren(this.el.families, h("div", { class: "card loading" }, h("p", { class: "muted" }, "Loading your families…")));
  }

  /** Nothing could be loaded: say so where the families would be, with a way to try again. */
  showLoadFailure(message) {
    this.el.families.setAttribute("aria-busy", "false");
    replaceChildren(
      this.el.families,
      h(
        "div",
        { class: "card load-failure", role: "alert" },
        h("p", { class: "empty-title" }, "Could not load your dashboard"),
        h("p", { class: "muted" }, message),
        h("button", { type: "button", class: "button primary", "data-action": "retry" }, "Try again"),
      ),
    );
    replaceChildren(this.el.relays, h("li", { class: "muted small" }, "Not loaded."));
    this.el.relaySummary.textContent = "";
  }

  // --- content --------------------------------------------------------------------------

  renderAll(store) {
    this.renderFamilies(store);
    this.renderRelays(store);
    this.renderFeed(store);
    this.el.families.setAttribute("aria-busy", "false");
    this.touched();
  }

  renderFamilies(store) {
    if (!store.families.length) {
      replaceChildren(
        this.el.families,
        h(
          "div",
          { class: "card empty-page" },
          emptyState("No families yet", "When you create a family or someone adds you to one, its domains, guardians and live changes show up here."),
        ),
      );
      return;
    }
    replaceChildren(this.el.families, store.families.map((family) => this.familySection(store, family)));
  }

  /** A family's domain cards in name order: the ones on screen stay (with their open
   * panels), new ones are drawn, gone ones leave. ``flashId`` marks a card that just arrived. */
  domainPart(store, family, keep = null) {
    const domains = store.domainsOf(family.id);
    if (family.errors.domains) return sectionError("the domains", family.errors.domains);
    if (!domains.length) {
      return h("div", { class: "card" }, emptyState("No domains yet", "Domains added to this family appear here with their sovereignty score."));
    }
    const card = (d) => (keep && keep.querySelector(`#domain-${d.id}`)) || domainCard(d);
    return h("div", { class: "domain-grid" }, domains.map(card));
  }

  renderDomains(store, familyId, flashId = null) {
    const box = document.getElementById(`domains-${familyId}`);
    const family = store.families.find((f) => f.id === familyId);
    if (!box || !family) return;
    const count = document.getElementById(`domain-count-${familyId}`);
    if (count) count.textContent = String(store.domainsOf(familyId).length);
    const part = this.domainPart(store, family, box);
    replaceChildren(box, part);
    if (flashId !== null) flash(document.getElementById(`domain-${flashId}`));
    this.touched();
  }

  familySection(store, family) {
    const domains = store.domainsOf(family.id);
    const domainPart = this.domainPart(store, family);
    return h(
      "section",
      { class: "family", id: `family-${family.id}`, "aria-labelledby": `family-${family.id}-name` },
      h(
        "header",
        { class: "family-head" },
        h("h2", { id: `family-${family.id}-name` }, family.name),
        h(
          "div",
          { class: "badges" },
          family.myRole ? badge(ROLE_LABELS[family.myRole] || family.myRole) : null,
          family.pubkyEnabled ? badge("Pubky identity", "good") : badge("No Pubky identity"),
        ),
      ),
      h("h3", { class: "section-title" }, "Domains ", h("span", { class: "count", id: `domain-count-${family.id}` }, String(domains.length))),
      hooks.family ? hooks.family(family) : null,
      h("div", { class: "domains", id: `domains-${family.id}` }, domainPart),
      h("h3", { class: "section-title" }, "Guardians"),
      h("div", { class: "card guardians-card", id: `guardians-${family.id}` }, guardianList(family, store.guardiansOf(family.id))),
    );
  }

  /** Redraw one domain card in place, keeping its "Why this score" panel open if it was. */
  updateDomain(domain) {
    const old = document.getElementById(`domain-${domain.id}`);
    if (!old) return;
    const wasOpen = old.querySelector("details.why")?.open;
    const card = domainCard(domain);
    const details = card.querySelector("details.why");
    if (details && wasOpen) details.open = true;
    keepChartsPanel(old, card);
    old.replaceWith(card);
    flash(card);
    this.touched();
  }

  /** Put a freshly fetched explanation into a card without redrawing (or flashing) it. */
  updateExplanation(domain) {
    const card = document.getElementById(`domain-${domain.id}`);
    const details = explanation(domain);
    if (!card || !details) return;
    const old = card.querySelector("details.why");
    if (old) old.replaceWith(details);
    else card.querySelector(".history").after(details);
  }

  updateGuardians(store, familyId) {
    const box = document.getElementById(`guardians-${familyId}`);
    const family = store.families.find((f) => f.id === familyId);
    if (!box || !family) return;
    replaceChildren(box, guardianList(family, store.guardiansOf(familyId)));
    flash(box);
    this.touched();
  }

  renderRelays(store, changed = false) {
    const relays = store.relayList();
    if (store.relayError) {
      replaceChildren(this.el.relays, h("li", {}, sectionError("the relays", store.relayError)));
      this.el.relaySummary.textContent = "";
      return;
    }
    if (!relays.length) {
      replaceChildren(this.el.relays, h("li", {}, emptyState("No relays", "No PKARR relay is configured or has been checked yet.")));
      this.el.relaySummary.textContent = "";
      return;
    }
    const [summary, tone] = relaySummary(relays);
    this.el.relaySummary.textContent = summary;
    this.el.relaySummary.className = `relay-summary ${tone}`;
    replaceChildren(this.el.relays, relays.map(relayRow));
    if (changed) {
      flash(this.el.relays.closest(".card"));
      this.touched();
    }
  }

  renderFeed(store) {
    // A full redraw is not news: announce only items that arrive later (prependFeed).
    this.el.feed.setAttribute("aria-live", "off");
    replaceChildren(this.el.feed, store.feed.map(feedItem));
    setTimeout(() => this.el.feed.setAttribute("aria-live", "polite"), 0);
    this.el.feedEmpty.hidden = store.feed.length > 0;
  }

  /** New feed items go on top; only they are announced (aria-live on the list). */
  prependFeed(items) {
    for (const item of items) {
      const li = feedItem(item);
      this.el.feed.prepend(li);
      flash(li);
    }
    while (this.el.feed.children.length > 50) this.el.feed.lastElementChild.remove();
    this.el.feedEmpty.hidden = this.el.feed.children.length > 0;
  }

  touched() {
    this.el.updated.textContent = `Updated ${clockTime()}`;
  }

  // --- connection state -------------------------------------------------------------------

  setConnection({ status, retryAt }) {
    this.el.conn.dataset.state = status;
    this.el.connLabel.textContent = CONNECTION_TEXT[status] || status;
    document.body.dataset.connection = status;
    clearInterval(this.countdown);
    if (status === "live" || status === "stopped" || status === "idle") {
      this.lostAt = null;
      this.el.connBanner.hidden = true;
      return;
    }
    if (status === "connecting" && !retryAt) {
      this.el.connBanner.hidden = true; // the first attempt: nothing has failed yet
      return;
    }
    let lead = "Live updates are not connected yet.";
    if (status !== "connecting") {
      this.lostAt = this.lostAt || new Date();
      lead = `Connection lost at ${clockTime(this.lostAt)}; showing the last data received.`;
    }
    const tick = () => {
      let next = "Reconnecting…";
      if (status === "offline") next = "You are offline; the page reconnects when the network is back.";
      else if (retryAt && retryAt > Date.now()) next = `Retrying in ${Math.ceil((retryAt - Date.now()) / 1000)} s…`;
      this.el.connText.textContent = `${lead} ${next}`;
    };
    tick();
    this.countdown = setInterval(tick, 1000);
    this.el.connBanner.hidden = false;
  }
}
