// Plain words for what a family admin reads: relay failures, migration failures, counts.
//
// The server stores errors as the network library reported them (useful to whoever runs it);
// the page says what they mean. The original text stays available as a tooltip.

/** "1 domain", "2 domains" (English plurals: pass the plural when it is not just +s). */
export function countOf(n, singular, plural = `${singular}s`) {
  return `${n} ${n === 1 ? singular : plural}`;
}

const NETWORK_PATTERNS = [
  [/connection refused|ECONNREFUSED|Failed to establish a new connection/i, "did not answer (connection refused: it is not running or not accepting connections)"],
  [/timed? ?out|Timeout/i, "did not answer in time (timed out)"],
  [/Name or service not known|nodename nor servname|getaddrinfo|NameResolution|name resolution|No address associated/i, "could not be found (its address did not resolve)"],
  [/CERTIFICATE_VERIFY_FAILED|certificate verify failed|SSLError|SSL:/i, "could not prove who it is (its TLS certificate was not accepted)"],
  [/Connection reset|RemoteDisconnected|Connection aborted|ECONNRESET|closed connection/i, "dropped the connection before answering"],
  [/Max retries exceeded|HTTPConnectionPool|HTTPSConnectionPool|ConnectionError|unreachable|connection failed/i, "could not be reached"],
];

function httpProblem(code) {
  if (code === 429) return "is limiting requests for now (too many requests)";
  if (code >= 500) return `had a problem on its side (HTTP ${code})`;
  if (code === 404) return "does not offer what was asked for (HTTP 404)";
  if (code >= 400) return `turned the request down (HTTP ${code})`;
  return `answered unexpectedly (HTTP ${code})`;
}

/**
 * What a network failure means, as the end of a sentence about ``subject`` ("The relay",
 * "A Pubky relay or homeserver"); null when the text is not a network failure we recognise.
 */
export function networkProblem(text, statusCode = null) {
  const raw = String(text || "");
  for (const [pattern, meaning] of NETWORK_PATTERNS) if (pattern.test(raw)) return meaning;
  const http = raw.match(/^HTTP (\d{3})\b/) || raw.match(/\bstatus(?: code)?:? (\d{3})\b/i);
  if (http) return httpProblem(Number(http[1]));
  if (!raw && statusCode) return httpProblem(statusCode);
  return null;
}

function hostOf(url) {
  try {
    const parsed = new URL(url);
    return parsed.host + (parsed.pathname === "/" ? "" : parsed.pathname.replace(/\/+$/, ""));
  } catch {
    return String(url);
  }
}

/**
 * A relay's last error in plain words: {text, detail} (detail = the original, if different).
 * With `url` the relay is named: "The relay at 127.0.0.1:15411 did not answer (connection refused…)."
 */
export function relayError(error, statusCode = null, url = "") {
  const raw = String(error || "").trim();
  if (!raw && !statusCode) return { text: "", detail: "" };
  const relay = url ? `The relay at ${hostOf(url)}` : "The relay";
  const meaning = networkProblem(raw, statusCode);
  if (meaning) return { text: `${relay} ${meaning}.`, detail: raw };
  return { text: `${relay} reported a problem: ${raw}`, detail: "" };
}

/** Why a migration stopped or waits, in plain words: {text, detail}. */
export function migrationError(error) {
  const raw = String(error || "").trim();
  if (!raw) return { text: "", detail: "" };
  if (/does not hold the challenge token/.test(raw)) {
    const found = raw.match(/\(found ([^)]*)\)/);
    const seen = found && found[1] !== "no TXT record" ? ` It found ${found[1]} instead.` : "";
    return {
      text: `The DNS check did not find the challenge record yet: add the TXT record shown for this migration, give DNS a few minutes, then verify again.${seen}`,
      detail: raw,
    };
  }
  const approvals = raw.match(/needs (\d+) guardian approval\(s\).*?; (\d+) given/);
  if (approvals) {
    const [needed, given] = [Number(approvals[1]), Number(approvals[2])];
    return {
      text: `This migration needs ${countOf(needed, "guardian approval")} before it can be carried out, and has ${given} so far. The family's guardians decide on their dashboard.`,
      detail: raw,
    };
  }
  if (/^(DNS lookup of .* (timed out|failed)|no resolver could answer)/.test(raw)) {
    return {
      text: "DNS could not be checked just now (the DNS servers did not answer). Try verifying again in a few minutes.",
      detail: raw,
    };
  }
  const meaning = networkProblem(raw);
  if (meaning) {
    return {
      text: `A Pubky relay or homeserver ${meaning}, so the migration stopped; the domain is back as it was. Try again later.`,
      detail: raw,
    };
  }
  // "SomeError: what happened": keep what happened, drop the programmer's class name.
  const stripped = raw.replace(/^[A-Z][A-Za-z]+(Error|Exception|Failed|Mismatch): /, "");
  return { text: stripped, detail: stripped === raw ? "" : raw };
}

/**
 * What a failed API call means, for a banner or next to what failed. `error` is an ApiError
 * ({status, message, network}); the server's own words are kept where they are meant for
 * people (a refused input, a conflict), replaced where they are a library's (relays, limits).
 */
export function apiProblem(error) {
  if (!error) return "";
  if (error.network) return "The server cannot be reached. Check your connection and try again.";
  const status = error.status;
  const message = String(error.message || "").trim();
  if (status === 429) return "Too many requests just now. Wait a minute, then try again.";
  if (status === 502) {
    const meaning = networkProblem(message);
    const what = meaning ? `A Pubky relay or homeserver ${meaning}` : "A Pubky relay, homeserver or DNS server did not answer as expected";
    return `${what}, so this could not be done now. Try again in a few minutes.`;
  }
  if (status >= 500) return "The server had a problem. Try again in a moment.";
  if (status === 404) return "It is not there any more (or you may not see it).";
  if (status === 403) return message || "You may not do this.";
  return message ? `The server answered ${status}: ${message}` : `The server answered ${status}.`;
}
