// Charts drawn by hand in SVG: a score history with its five components stacked over time,
// a relay's up/down strip with p50/p95 latency, and a domain's activity per bucket.
//
// Every chart is drawn at the pixel width of its box (no scaling of text), with a time axis
// whose ticks and labels (hours, or dates) follow the span shown. Points and bars carry
// data-* attributes (their time and value) so what is drawn can be checked and read back.
// Times are shown in the browser's time zone.

import { h, latency, svg } from "./dom.js";

export const HOUR = 3600 * 1000;
export const DAY = 24 * HOUR;
const STEPS = [HOUR, 2 * HOUR, 3 * HOUR, 6 * HOUR, 12 * HOUR, DAY, 2 * DAY, 7 * DAY, 14 * DAY, 30 * DAY, 91 * DAY];
const dayLabel = new Intl.DateTimeFormat("en", { month: "short", day: "numeric" });
const hourLabel = new Intl.DateTimeFormat("en", { hour: "2-digit", minute: "2-digit", hourCycle: "h23" });
const fullLabel = new Intl.DateTimeFormat("en", { dateStyle: "medium", timeStyle: "short" });

export const SCORE_PARTS = [
  ["provider_independence", "Provider independence"],
  ["key_ownership", "Key ownership"],
  ["censorship_resistance", "Censorship resistance"],
  ["privacy", "Privacy"],
  ["portability", "Portability"],
];

const fmt = (n) => (Number.isInteger(n) ? String(n) : n.toFixed(1));
const iso = (t) => new Date(t).toISOString();

/** 1, 2, 5, 10, 20, 50, … : the smallest such number >= value (at least `floor`). */
export function niceCeil(value, floor = 1) {
  const v = Math.max(value, floor);
  const power = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 5, 10]) if (m * power >= v) return m * power;
  return 10 * power;
}

/** Ticks of a time axis from `start` to `end` (ms): at most `maxTicks`, on whole hours or days. */
export function timeTicks(start, end, maxTicks) {
  const span = Math.max(end - start, 1);
  const step = STEPS.find((s) => span / s <= maxTicks) || STEPS[STEPS.length - 1];
  const first = new Date(start);
  if (step < DAY) first.setMinutes(0, 0, 0);
  else first.setHours(0, 0, 0, 0);
  let t = first.getTime();
  const aligned = (ms) => step >= DAY || new Date(ms).getHours() % (step / HOUR) === 0;
  while (t < start || !aligned(t)) t += step < DAY ? HOUR : DAY;
  const ticks = [];
  while (t <= end && ticks.length <= maxTicks) {
    ticks.push(t);
    if (step < DAY) t += step;
    else {
      const next = new Date(t);
      next.setDate(next.getDate() + step / DAY);
      t = next.getTime();
    }
  }
  return { step, ticks };
}

/** "Mar 2" at midnight or for day steps, "14:00" otherwise. */
export function tickLabel(t, step) {
  const d = new Date(t);
  if (step >= DAY || (d.getHours() === 0 && d.getMinutes() === 0)) return dayLabel.format(d);
  return hourLabel.format(d);
}

/**
 * The frame of a chart: y grid lines with labels on the left, the time axis at the bottom.
 * Returns {root, plot, x, y, left, right, top, bottom}.
 */
function frame({ cls, width, height, start, end, yMax, yTicks, yFormat = fmt, label, top = 8 }) {
  const left = 34;
  const right = width - 8;
  const bottom = height - 22;
  const x = (t) => left + ((t - start) / Math.max(end - start, 1)) * (right - left);
  const y = (v) => bottom - (v / yMax) * (bottom - top);
  const root = svg("svg", {
    class: `chart ${cls}`,
    width,
    height,
    viewBox: `0 0 ${width} ${height}`,
    role: "img",
    "aria-label": label,
    "data-start": iso(start),
    "data-end": iso(end),
  });
  root.append(svg("title", {}, label));
  const grid = svg("g", { class: "y-axis" });
  for (const v of yTicks) {
    grid.append(
      svg("line", { class: "grid", x1: left, x2: right, y1: y(v), y2: y(v) }),
      svg("text", { class: "y-label", x: left - 5, y: y(v) + 3.5, "text-anchor": "end" }, yFormat(v)),
    );
  }
  const axis = svg("g", { class: "x-axis" });
  axis.append(svg("line", { class: "axis", x1: left, x2: right, y1: bottom, y2: bottom }));
  const { step, ticks } = timeTicks(start, end, Math.max(2, Math.floor((right - left) / 64)));
  for (const t of ticks) {
    const tx = x(t);
    const anchor = tx - left < 20 ? "start" : right - tx < 20 ? "end" : "middle";
    axis.append(
      svg("line", { class: "tick", x1: tx, x2: tx, y1: bottom, y2: bottom + 4 }),
      svg("text", { class: "x-label", x: tx, y: bottom + 15, "text-anchor": anchor, "data-t": iso(t) }, tickLabel(t, step)),
    );
  }
  const plot = svg("g", { class: "plot" });
  root.append(grid, plot, axis);
  return { root, plot, x, y, left, right, top, bottom };
}

function legend(items) {
  return h(
    "ul",
    { class: "chart-legend" },
    items.map(([cls, text]) => h("li", {}, h("span", { class: `swatch ${cls}`, "aria-hidden": "true" }), text)),
  );
}

// --- score history --------------------------------------------------------------------------

/**
 * Rows of the score history API (any order) as points: {at (ms), total, parts: {name: value}}.
 */
export function scorePoints(rows) {
  return rows
    .map((row) => ({
      id: row.id,
      at: Date.parse(row.calculated_at),
      total: row.total,
      parts: Object.fromEntries(SCORE_PARTS.map(([name]) => [name, row[name] ?? 0])),
    }))
    .filter((p) => Number.isFinite(p.at))
    .sort((a, b) => a.at - b.at || a.id - b.id);
}

/**
 * The total over time (a step line: a score holds until the next calculation) over the five
 * components stacked in colour, from the first calculation to `now`.
 */
export function scoreChart(points, { width, height = 190, now = Date.now() }) {
  if (!points.length) return h("p", { class: "muted small chart-empty" }, "No score calculated yet.");
  const last = points[points.length - 1];
  const end = Math.max(now, last.at);
  const start = Math.min(points[0].at, end - HOUR); // at least an hour wide
  const label = `Sovereignty score from ${fullLabel.format(points[0].at)}: ${points.map((p) => p.total).join(", ")}`;
  const f = frame({ cls: "score-chart", width, height, start, end, yMax: 100, yTicks: [0, 25, 50, 75, 100], label });
  f.root.setAttribute("data-points", String(points.length));
  // Each point holds from its time to the next one's (the last one until the end).
  const spans = points.map((p, i) => [f.x(p.at), f.x(i + 1 < points.length ? points[i + 1].at : end), p]);
  let below = spans.map(() => 0);
  for (const [name] of SCORE_PARTS) {
    const above = spans.map(([, , p], i) => below[i] + p.parts[name]);
    const upper = spans.flatMap(([x0, x1], i) => [`${x0.toFixed(1)},${f.y(above[i]).toFixed(1)}`, `${x1.toFixed(1)},${f.y(above[i]).toFixed(1)}`]);
    const lower = spans
      .flatMap(([x0, x1], i) => [`${x0.toFixed(1)},${f.y(below[i]).toFixed(1)}`, `${x1.toFixed(1)},${f.y(below[i]).toFixed(1)}`])
      .reverse();
    f.plot.append(svg("polygon", { class: `band part-${name}`, "data-component": name, points: [...upper, ...lower].join(" ") }));
    below = above;
  }
  const line = spans.flatMap(([x0, x1, p]) => [`${x0.toFixed(1)},${f.y(p.total).toFixed(1)}`, `${x1.toFixed(1)},${f.y(p.total).toFixed(1)}`]);
  f.plot.append(svg("polyline", { class: "total-line", points: line.join(" ") }));
  for (const p of points) {
    const parts = SCORE_PARTS.map(([name, text]) => `${text} ${p.parts[name]}`).join(", ");
    f.plot.append(
      svg(
        "circle",
        { class: "point", cx: f.x(p.at).toFixed(1), cy: f.y(p.total).toFixed(1), r: 3.5, "data-at": iso(p.at), "data-value": p.total },
        svg("title", {}, `${fullLabel.format(p.at)}: ${p.total}/100 (${parts})`),
      ),
    );
  }
  return h(
    "figure",
    { class: "chart-figure" },
    f.root,
    h("figcaption", {}, legend([["total", "Total"], ...SCORE_PARTS.map(([name, text]) => [`part-${name}`, text])])),
  );
}

// --- relays ---------------------------------------------------------------------------------

/** One relay's last hours: a strip of up/down per bucket over p50 and p95 latency lines. */
export function relayChart(relay, { since, until, bucketSeconds, width, height = 132 }) {
  const start = Date.parse(since);
  const end = Date.parse(until);
  const size = bucketSeconds * 1000;
  const buckets = relay.buckets.map((b) => ({ ...b, t: Date.parse(b.start) }));
  const highest = Math.max(0, ...buckets.map((b) => b.p95_ms ?? b.p50_ms ?? 0));
  const yMax = niceCeil(highest * 1.1, 10);
  const uptime = relay.uptime_percent === null ? "unknown" : `${fmt(relay.uptime_percent)} %`;
  const label = `${relay.url}: up ${uptime} of probes; p50 ${latency(relay.p50_ms)}, p95 ${latency(relay.p95_ms)}`;
  const f = frame({
    cls: "relay-chart",
    width,
    height,
    start,
    end,
    yMax,
    yTicks: [0, yMax / 2, yMax],
    yFormat: (v) => `${fmt(v)}`,
    label,
    top: 22,
  });
  f.root.setAttribute("data-url", relay.url);
  const strip = svg("g", { class: "uptime-strip" });
  const slots = Math.max(1, Math.round((end - start) / size));
  for (let i = 0; i < slots; i += 1) {
    const t = start + i * size;
    const b = buckets.find((row) => Math.abs(row.t - t) < size / 2);
    let state = "none";
    let text = "no probe";
    if (b) {
      state = b.up === b.checks ? "up" : b.up === 0 ? "down" : "partial";
      text = `${b.up} of ${b.checks} probes up`;
    }
    const x0 = f.x(t);
    const x1 = f.x(Math.min(t + size, end));
    strip.append(
      svg(
        "rect",
        { class: `slot ${state}`, x: (x0 + 0.5).toFixed(1), y: 4, width: Math.max(1, x1 - x0 - 1).toFixed(1), height: 10, rx: 2, "data-start": iso(t), "data-state": state },
        svg("title", {}, `${fullLabel.format(t)}: ${text}`),
      ),
    );
  }
  f.root.insertBefore(strip, f.plot);
  for (const [key, cls] of [["p95_ms", "p95"], ["p50_ms", "p50"]]) {
    const pts = buckets.filter((b) => b[key] !== null).map((b) => ({ x: f.x(b.t + size / 2), y: f.y(b[key]), b }));
    if (!pts.length) continue;
    if (pts.length > 1) f.plot.append(svg("polyline", { class: `latency ${cls}`, points: pts.map((p) => `${p.x.toFixed(1)},${p.y.toFixed(1)}`).join(" ") }));
    for (const p of pts) {
      f.plot.append(svg("circle", { class: `latency-point ${cls}`, cx: p.x.toFixed(1), cy: p.y.toFixed(1), r: 2.2, "data-start": p.b.start, "data-value": p.b[key] }));
    }
  }
  return f.root;
}

// --- activity -------------------------------------------------------------------------------

export const ACTIVITY_KINDS = [
  ["events", "Live events"],
  ["resolves", "Resolves"],
  ["publishes", "Publishes"],
  ["republishes", "Republishes"],
];

/** Stacked bars per bucket: live events, resolves, publishes and republishes. */
export function activityChart(activity, { width, height = 170 }) {
  const start = Date.parse(activity.since);
  const end = Date.parse(activity.until);
  const size = activity.bucket_seconds * 1000;
  const totals = activity.buckets.map((b) => ACTIVITY_KINDS.reduce((sum, [kind]) => sum + b[kind], 0));
  const yMax = niceCeil(Math.max(0, ...totals), 4);
  const sum = ACTIVITY_KINDS.map(([kind, text]) => `${activity.totals[kind]} ${text.toLowerCase()}`).join(", ");
  const f = frame({
    cls: "activity-chart",
    width,
    height,
    start,
    end,
    yMax,
    yTicks: [0, yMax / 2, yMax].filter((v) => Number.isInteger(v)),
    label: `Activity from ${fullLabel.format(start)}: ${sum}`,
  });
  const kept = Date.parse(activity.events_since);
  if (kept > start) {
    // Events older than this are no longer kept: say so rather than draw a misleading zero.
    f.plot.append(
      svg("rect", { class: "not-kept", x: f.left, y: f.top, width: Math.max(0, f.x(kept) - f.left), height: f.bottom - f.top }, svg("title", {}, "Live events from before this are no longer kept")),
    );
  }
  for (const b of activity.buckets) {
    const t = Date.parse(b.start);
    const x0 = f.x(t);
    const w = Math.max(1, f.x(t + size) - x0 - 1.5);
    let base = 0;
    const group = svg("g", { class: "bar", "data-start": b.start });
    for (const [kind, text] of ACTIVITY_KINDS) {
      const value = b[kind];
      if (!value) continue;
      group.append(
        svg(
          "rect",
          { class: `seg ${kind}`, x: (x0 + 0.75).toFixed(1), y: f.y(base + value).toFixed(1), width: w.toFixed(1), height: (f.y(base) - f.y(base + value)).toFixed(1), "data-kind": kind, "data-value": value },
          svg("title", {}, `${fullLabel.format(t)}: ${value} ${text.toLowerCase()}`),
        ),
      );
      base += value;
    }
    f.plot.append(group);
  }
  return h("figure", { class: "chart-figure" }, f.root, h("figcaption", {}, legend(ACTIVITY_KINDS)));
}

/**
 * Draw `draw(width)` into `box` at the box's width, and again whenever that width changes
 * (a phone turned, a window resized, a panel opened). A hidden box is drawn once it shows.
 */
export function fitChart(box, draw) {
  box._chartDraw = draw;
  delete box.dataset.drawnWidth;
  drawInto(box);
  if (typeof ResizeObserver === "function" && !box._chartObserver) {
    box._chartObserver = new ResizeObserver(() => drawInto(box));
    box._chartObserver.observe(box);
  }
}

function drawInto(box) {
  const width = Math.floor(box.clientWidth || 0);
  if (width < 1 || !box._chartDraw) return; // hidden: drawn when it shows
  if (box.dataset.drawnWidth === String(width) && box.firstChild) return;
  box.dataset.drawnWidth = String(width);
  box.replaceChildren(box._chartDraw(Math.max(160, width)));
}
