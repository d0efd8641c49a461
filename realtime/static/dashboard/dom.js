// Small DOM and formatting helpers. Text always goes in through textContent, never innerHTML,
// so a family or domain name can never become markup.

const SVG_NS = "http://www.w3.org/2000/svg";

function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

function setProps(el, props) {
  for (const [name, value] of Object.entries(props || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (name === "class") el.setAttribute("class", value);
    else if (name === "dataset") Object.assign(el.dataset, value);
    else if (name.startsWith("on")) el.addEventListener(name.slice(2), value);
    else el.setAttribute(name, value === true ? "" : String(value));
  }
  return el;
}

/** h("li", {class: "x"}, "text", child, [more]) builds an element. */
export function h(tag, props, ...children) {
  return append(setProps(document.createElement(tag), props), children);
}

/** The same for SVG elements. */
export function svg(tag, props, ...children) {
  return append(setProps(document.createElementNS(SVG_NS, tag), props), children);
}

export function replaceChildren(el, ...children) {
  el.replaceChildren();
  return append(el, children);
}

/** Restart a short highlight on an element that just changed. */
export function flash(el) {
  if (!el) return;
  el.classList.remove("flash");
  void el.offsetWidth; // restart the animation
  el.classList.add("flash");
}

const UNITS = [
  ["year", 365 * 24 * 3600],
  ["month", 30 * 24 * 3600],
  ["day", 24 * 3600],
  ["hour", 3600],
  ["minute", 60],
];
const relative = new Intl.RelativeTimeFormat("en", { numeric: "auto" });
const absolute = new Intl.DateTimeFormat("en", { dateStyle: "medium", timeStyle: "medium" });

export function ago(iso, now = Date.now()) {
  if (!iso) return "never";
  const seconds = Math.round((new Date(iso).getTime() - now) / 1000);
  if (Math.abs(seconds) < 45) return "just now";
  for (const [unit, size] of UNITS) {
    if (Math.abs(seconds) >= size || unit === "minute") {
      return relative.format(Math.round(seconds / size), unit);
    }
  }
  return "just now";
}

/** A <time> that shows "5 minutes ago" and keeps the exact time in a tooltip. */
export function timeEl(iso, prefix = "") {
  if (!iso) return h("span", { class: "muted" }, prefix ? `${prefix} never` : "never");
  return h(
    "time",
    { datetime: iso, title: absolute.format(new Date(iso)), "data-prefix": prefix },
    `${prefix ? prefix + " " : ""}${ago(iso)}`,
  );
}

/** Refresh every relative time on the page (called on a timer). */
export function refreshTimes(root = document) {
  for (const el of root.querySelectorAll("time[datetime]")) {
    const prefix = el.dataset.prefix;
    el.textContent = `${prefix ? prefix + " " : ""}${ago(el.getAttribute("datetime"))}`;
  }
}

export function clockTime(date = new Date()) {
  return date.toLocaleTimeString("en", { hour: "2-digit", minute: "2-digit", second: "2-digit" });
}

export function latency(ms) {
  if (ms === null || ms === undefined) return "—";
  return ms < 100 ? `${ms.toFixed(1)} ms` : `${Math.round(ms)} ms`;
}

/** "abcd…wxyz" for a 52-character z-base-32 key. */
export function shortKey(key) {
  if (!key) return "";
  return key.length > 14 ? `${key.slice(0, 6)}…${key.slice(-6)}` : key;
}

/** "127.0.0.1:15411" for "http://127.0.0.1:15411/". */
export function hostOf(url) {
  try {
    const parsed = new URL(url);
    return parsed.host + (parsed.pathname === "/" ? "" : parsed.pathname);
  } catch {
    return url;
  }
}
