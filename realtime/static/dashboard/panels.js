// The history panels: a domain's score and activity charts (opened from its card), and the
// relays' uptime and latency over the last day (under the relay list). They read their own
// endpoints when shown, and again (at most every few seconds) when a live event says the
// data moved.

import { fitChart, activityChart, relayChart, scoreChart, scorePoints } from "./charts.js";
import { h, hostOf, latency, replaceChildren } from "./dom.js";
import { apiProblem } from "./messages.js";

const SCORE_POINTS = 200; // the API's largest page
const ACTIVITY_HOURS = 24 * 7;
const RELAY_HOURS = 24;
const REFRESH_DELAY = 3000;

function loadError(what, error) {
  const reason = error && error.status ? apiProblem(error) : "The server cannot be reached.";
  return h("p", { class: "inline-error", role: "alert" }, `Could not load ${what}. ${reason}`);
}

// --- a domain's panel -----------------------------------------------------------------------

/** The closed panel of a domain card; it loads its charts when opened. */
export function chartsPanel(domain) {
  return h(
    "details",
    { class: "charts-panel", "data-domain-id": domain.id },
    h("summary", {}, "History and activity"),
    h(
      "div",
      { class: "charts-body" },
      h("h5", { class: "chart-title" }, "Score over time"),
      h("div", { class: "chart-box score-box" }, h("p", { class: "muted small" }, "Loading…")),
      h("h5", { class: "chart-title" }, "Activity, last 7 days"),
      h("div", { class: "chart-box activity-box" }, h("p", { class: "muted small" }, "Loading…")),
    ),
  );
}

let apiSession = null; // set by attachChartsPanels

/** A card redrawn by a live event keeps its open panel (charts included) and refreshes it. */
export function keepChartsPanel(oldCard, newCard) {
  const open = oldCard.querySelector("details.charts-panel[open]");
  const fresh = newCard.querySelector("details.charts-panel");
  if (!open || !fresh || !apiSession) return;
  fresh.replaceWith(open);
  refreshLater(open, apiSession);
}

const pending = new WeakMap();

function refreshLater(panel, session) {
  if (pending.has(panel)) return;
  pending.set(
    panel,
    setTimeout(() => {
      pending.delete(panel);
      if (panel.open && panel.isConnected) loadPanel(panel, session);
    }, REFRESH_DELAY),
  );
}

async function loadPanel(panel, session) {
  const id = panel.dataset.domainId;
  const scoreBox = panel.querySelector(".score-box");
  const activityBox = panel.querySelector(".activity-box");
  panel.dataset.loading = "true";
  const [scores, activity] = await Promise.allSettled([
    session.api(`domains/${id}/scores/?limit=${SCORE_POINTS}`),
    session.api(`domains/${id}/activity/?hours=${ACTIVITY_HOURS}`),
  ]);
  if (scores.status === "fulfilled") {
    const points = scorePoints(scores.value.results);
    fitChart(scoreBox, (width) => scoreChart(points, { width }));
  } else replaceChildren(scoreBox, loadError("the score history", scores.reason));
  if (activity.status === "fulfilled") {
    fitChart(activityBox, (width) => activityChart(activity.value, { width }));
  } else replaceChildren(activityBox, loadError("the activity", activity.reason));
  panel.dataset.loading = "false";
  panel.dataset.loaded = String(Number(panel.dataset.loaded || 0) + 1);
}

/** Open panels load their charts (toggle does not bubble: listen while it goes down). */
export function attachChartsPanels(root, session) {
  apiSession = session;
  root.addEventListener(
    "toggle",
    (event) => {
      const panel = event.target;
      if (panel.matches && panel.matches("details.charts-panel") && panel.open) loadPanel(panel, session);
    },
    true,
  );
}

// --- relays over the last day ---------------------------------------------------------------

function relaySummaryLine(relay) {
  if (!relay.checks) return "No probe in the last day";
  return `${relay.uptime_percent.toFixed(relay.uptime_percent % 1 ? 1 : 0)} % up · p50 ${latency(relay.p50_ms)} · p95 ${latency(relay.p95_ms)}`;
}

/** The relay history section (#relay-history): one small chart per relay. */
export class RelayHistory {
  constructor(box, session) {
    this.box = box;
    this.session = session;
    this.timer = null;
    this.loads = 0;
  }

  async load() {
    clearTimeout(this.timer);
    this.timer = null;
    if (!this.box) return;
    let body;
    try {
      body = await this.session.api(`relays/history/?hours=${RELAY_HOURS}`);
    } catch (error) {
      replaceChildren(this.box, loadError("the relay history", error));
      return;
    }
    this.loads += 1;
    this.box.dataset.loads = String(this.loads);
    if (!body.relays.length) {
      replaceChildren(this.box, h("p", { class: "muted small" }, "No relay history yet."));
      return;
    }
    replaceChildren(
      this.box,
      body.relays.map((relay) => {
        const chart = h("div", { class: "chart-box relay-box" });
        const item = h(
          "div",
          { class: "relay-history-item", "data-url": relay.url },
          h(
            "p",
            { class: "relay-history-head" },
            h("span", { class: "relay-host", title: relay.url }, hostOf(relay.url)),
            h("span", { class: "relay-figures muted small" }, relaySummaryLine(relay)),
          ),
          chart,
        );
        const options = { since: body.since, until: body.until, bucketSeconds: body.bucket_seconds };
        fitChart(chart, (width) => relayChart(relay, { ...options, width }));
        return item;
      }),
      h(
        "p",
        { class: "muted small chart-note" },
        "One bar per hour: green up, amber partly down, red down, grey not checked. " +
          "Lines: latency p50 (solid) and p95 (dashed), in ms.",
      ),
    );
  }

  /** A relay event arrived: read the history again shortly (one read for a burst). */
  refreshSoon() {
    if (this.timer) return;
    this.timer = setTimeout(() => this.load(), REFRESH_DELAY);
  }

  stop() {
    clearTimeout(this.timer);
    this.timer = null;
  }
}
