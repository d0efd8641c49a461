// Forms of the dashboard's actions: fields with a place for their error, busy buttons, and
// the API's refusals turned into plain words next to what failed.
//
// A 400 from the API names the fields it refused ({"name": ["…"], "records": [{"value": […]}]});
// other refusals carry {"detail", "code"}. Field errors go under their field, the rest above the
// form's buttons (or next to the button that failed).

import { h } from "./dom.js";
import { migrationError, networkProblem } from "./messages.js";

let nextId = 0;

/** Flatten a DRF error body: {"records": [{}, {"value": ["x"]}]} -> {"records.1.value": "x"}. */
export function flattenErrors(body, prefix = "") {
  const out = {};
  if (body === null || body === undefined) return out;
  if (typeof body === "string") {
    out[prefix || "non_field_errors"] = body;
    return out;
  }
  if (Array.isArray(body)) {
    if (body.every((item) => typeof item === "string")) {
      if (body.length) out[prefix || "non_field_errors"] = body.join(" ");
      return out;
    }
    body.forEach((item, index) => Object.assign(out, flattenErrors(item, prefix ? `${prefix}.${index}` : String(index))));
    return out;
  }
  if (typeof body === "object") {
    for (const [key, value] of Object.entries(body)) {
      if (key === "code") continue;
      Object.assign(out, flattenErrors(value, prefix ? `${prefix}.${key}` : key));
    }
  }
  return out;
}

function sentence(text) {
  const trimmed = String(text || "").trim();
  if (!trimmed) return "";
  const first = trimmed[0].toUpperCase() + trimmed.slice(1);
  return /[.!?)]$/.test(first) ? first : `${first}.`;
}

/** What an API failure means, in plain words (for a whole action, not one field). */
export function actionMessage(error) {
  if (!error) return "";
  if (error.network) return "The server cannot be reached. Check your connection and try again.";
  const status = error.status;
  const detail = sentence(error.message);
  if (status === 401) return "Your session ended. Sign in again.";
  if (status === 403) return `You are not allowed to do this. ${detail}`.trim();
  if (status === 404) return "This no longer exists, or you cannot see it any more. The page refreshes it.";
  if (status === 429) return "Too many requests for now. Wait a minute, then try again.";
  if (status === 502) {
    const meaning = networkProblem(error.message);
    return meaning
      ? `A Pubky relay or homeserver ${meaning}. Nothing was changed; try again later.`
      : `The Pubky network did not accept it: ${detail}`;
  }
  if (status >= 500) return `The server had a problem (HTTP ${status}). Try again in a moment.`;
  if (status === 409) return sentence(migrationError(error.message).text) || detail;
  return detail || `The server refused it (HTTP ${status}).`;
}

/**
 * Split an API failure into field errors and what is left for the form:
 * {fields: {name: text}, general: text}. ``known`` lists the form's field names; errors for
 * other fields read as "<field>: <text>" in the general message.
 */
export function formErrors(error, known = []) {
  const body = error && error.body;
  if (!error || error.status !== 400 || !body || typeof body !== "object" || "detail" in body) {
    return { fields: {}, general: actionMessage(error) };
  }
  const fields = {};
  const rest = [];
  for (const [key, text] of Object.entries(flattenErrors(body))) {
    if (known.includes(key)) fields[key] = sentence(text);
    else if (key === "non_field_errors") rest.push(sentence(text));
    else rest.push(`${key.replace(/_/g, " ")}: ${sentence(text)}`);
  }
  return { fields, general: rest.join(" ") };
}

// --- building forms ---------------------------------------------------------------------------

/** A labelled input (or select) with a hint and a place for its error. */
export function field(label, control, { hint = "", name = control.name } = {}) {
  const id = control.id || `f${(nextId += 1)}`;
  control.id = id;
  const error = h("p", { class: "field-error", id: `${id}-error`, "data-error-for": name, hidden: true });
  control.setAttribute("aria-describedby", `${id}-error${hint ? ` ${id}-hint` : ""}`);
  return h(
    "div",
    { class: "field" },
    h("label", { for: id }, label),
    control,
    hint ? h("p", { class: "field-hint muted small", id: `${id}-hint` }, hint) : null,
    error,
  );
}

export function input(name, props = {}) {
  return h("input", { name, type: "text", autocomplete: "off", spellcheck: "false", ...props });
}

export function select(name, options, value = "") {
  return h(
    "select",
    { name },
    options.map(([optionValue, label]) =>
      h("option", { value: optionValue, selected: optionValue === value ? true : null }, label),
    ),
  );
}

/** A message area for a form or a row of buttons (announced when it changes). */
export function errorSlot() {
  return h("p", { class: "form-error action-error", role: "alert", hidden: true });
}

export function setError(slot, text) {
  if (!slot) return;
  slot.textContent = text || "";
  slot.hidden = !text;
}

/** Clear a form's errors, then show ``error`` under its fields and in its message area. */
export function showFormErrors(form, error) {
  clearFormErrors(form);
  const names = [...form.querySelectorAll("[data-error-for]")].map((el) => el.dataset.errorFor);
  const { fields, general } = formErrors(error, names);
  let first = null;
  for (const [name, text] of Object.entries(fields)) {
    const slot = form.querySelector(`[data-error-for="${CSS.escape(name)}"]`);
    if (!slot) continue;
    slot.textContent = text;
    slot.hidden = false;
    const control = form.querySelector(`[aria-describedby~="${CSS.escape(slot.id)}"]`);
    if (control) {
      control.setAttribute("aria-invalid", "true");
      first = first || control;
    }
  }
  setError(form.querySelector(".form-error"), general);
  if (first) first.focus();
}

export function clearFormErrors(form) {
  for (const slot of form.querySelectorAll("[data-error-for]")) {
    slot.textContent = "";
    slot.hidden = true;
  }
  for (const control of form.querySelectorAll("[aria-invalid]")) control.removeAttribute("aria-invalid");
  setError(form.querySelector(".form-error"), "");
}

/** Run ``work`` with ``button`` disabled and showing ``label``; restores it afterwards. */
export async function whileBusy(button, label, work) {
  const before = button.textContent;
  button.disabled = true;
  button.setAttribute("aria-busy", "true");
  button.textContent = label;
  try {
    return await work();
  } finally {
    button.disabled = false;
    button.removeAttribute("aria-busy");
    button.textContent = before;
  }
}

/** The form's values as an object of trimmed strings (checkboxes as booleans). */
export function valuesOf(form) {
  const values = {};
  for (const control of form.elements) {
    if (!control.name) continue;
    if (control.type === "checkbox") values[control.name] = control.checked;
    else if (control.type === "radio") {
      if (control.checked) values[control.name] = control.value;
    } else values[control.name] = control.value.trim();
  }
  return values;
}
