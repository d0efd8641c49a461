// What a family's people can do from the dashboard, through the REST API: add domains and
// their DNS records, register a domain on Pubky (a key the service holds, or one the family
// holds and proves by scanning a QR code), move a domain from DNS to Pubky, decide on a
// migration as a guardian, invite and remove guardians, recalculate and republish.
//
// Each control is drawn only for those the access policy lets act (the family's `my_role` and
// `is_guardian` from the API); the server checks again, and a refusal reads in plain words
// next to the control that failed. Results show up as the API answers and again as the live
// events arrive (both paths lead to the same store, so nothing is shown twice).

import { h, shortKey } from "./dom.js";
import {
  actionMessage,
  clearFormErrors,
  errorSlot,
  field,
  input,
  select,
  setError,
  showFormErrors,
  valuesOf,
  whileBusy,
} from "./forms.js";
import { countOf } from "./messages.js";
import { qrSvg } from "./qr.js";
import { hooks } from "./render.js";
import { OPEN_MIGRATION_STATES, directionLabel } from "./store.js";

// The policy's ranks: members change domains, records, Pubky domains and migrations;
// administrators also manage guardians.
const ROLE_RANK = { viewer: 10, member: 20, admin: 30, owner: 40 };
const DECIDABLE = new Set(["pending", "verifying", "verified"]);
const RECORD_TYPES = ["A", "AAAA", "CNAME", "TXT", "MX", "NS", "HTTPS", "SVCB"];
const KEY_PROOF_WAIT_S = 20;

/** What the caller may do in ``family`` (from the API's ``my_role`` and ``is_guardian``). */
export function permissionsOf(family) {
  const rank = ROLE_RANK[family && family.myRole] || 0;
  return {
    change: rank >= ROLE_RANK.member,
    administer: rank >= ROLE_RANK.admin,
    decide: Boolean(family && family.isGuardian),
  };
}

/** The steps of a migration and where it is: [{key, label, state: done|current|todo|failed}]. */
export function migrationSteps(migration) {
  const steps = [["dns", "DNS check"]];
  if (migration.approvalsRequired) {
    steps.push(["approval", `Guardian approval (${migration.approvals || 0} of ${migration.approvalsRequired})`]);
  }
  steps.push(["publishing", "Publishing on Pubky"], ["done", "Done"]);
  const position = {
    pending: 0,
    verifying: 0,
    verified: migration.approvalsRequired && (migration.approvals || 0) < migration.approvalsRequired ? 1 : 2,
    publishing: steps.length - 2,
    completed: steps.length,
  };
  let at = position[migration.state];
  if (migration.state === "verified" && !migration.approvalsRequired) at = 1;
  const failed = at === undefined;
  if (failed) at = -1;
  return steps.map(([key, label], index) => ({
    key,
    label,
    state: failed ? "todo" : index < at ? "done" : index === at ? "current" : "todo",
  }));
}

export class Actions {
  /**
   * ``app`` gives what the page already knows how to do: `store()` (the current store),
   * `showDomain(row)`, `showMigration(row)`, `showPubky(row)`, `showGuardian(row)`,
   * `refreshScore(domainId)`, `refreshMigration(id)`.
   */
  constructor({ session, app }) {
    this.session = session;
    this.app = app;
    this.errors = new Map(); // "domain:<id>" / "guardian:<id>" -> message shown after a redraw
    this.notes = new Map(); // the same, for what went well
    this.decided = new Map(); // migration id -> "approved" | "rejected" (this page's decisions)
    this.copied = new Map(); // "<migration id>:<part>" -> what the last copy did, until it fades
    this.fetchingChallenge = new Set();
    this.dialog = null;
    this.onDialogClose = null;
  }

  install() {
    hooks.domain = (domain) => this.domainActions(domain);
    hooks.family = (family) => this.familyActions(family);
    hooks.guardians = (family) => this.guardianInvite(family);
    hooks.guardian = (guardian, family) => this.guardianActions(guardian, family);
  }

  familyOf(familyId) {
    return this.app.store().families.find((f) => f.id === familyId) || null;
  }

  api(path, method, body) {
    return this.session.api(path, { method, body });
  }

  // --- messages next to controls ------------------------------------------------------------

  say(key, { error = "", note = "" }) {
    if (error) this.errors.set(key, error);
    else this.errors.delete(key);
    if (note) this.notes.set(key, note);
    else this.notes.delete(key);
    for (const el of document.querySelectorAll(`[data-slot="${key}"]`)) {
      const text = el.classList.contains("action-error") ? error : note;
      el.textContent = text;
      el.hidden = !text;
    }
  }

  slots(key) {
    const error = errorSlot();
    error.dataset.slot = key;
    setError(error, this.errors.get(key) || "");
    const note = h("p", { class: "action-note muted small", role: "status", "data-slot": key });
    note.textContent = this.notes.get(key) || "";
    note.hidden = !note.textContent;
    return [note, error];
  }

  /** A button that calls the API; its failure is shown in the slots of ``key``. */
  button(label, busyLabel, key, work, { tone = "", name = "" } = {}) {
    const button = h("button", { type: "button", class: `button small ${tone}`.trim(), "data-action": name || null }, label);
    button.addEventListener("click", async () => {
      this.say(key, {});
      try {
        const note = await whileBusy(button, busyLabel, work);
        if (note) this.say(key, { note });
      } catch (error) {
        this.say(key, { error: actionMessage(error) });
      }
    });
    return button;
  }

  /** A button that asks once more before doing something hard to undo. */
  confirmButton(label, question, busyLabel, key, work) {
    const button = this.button(label, busyLabel, key, work, { tone: "danger" });
    let armed = null;
    button.addEventListener(
      "click",
      (event) => {
        if (armed) {
          clearTimeout(armed);
          armed = null;
          return; // the second click: let the action run
        }
        event.stopImmediatePropagation();
        button.textContent = question;
        button.classList.add("armed");
        armed = setTimeout(() => {
          armed = null;
          button.textContent = label;
          button.classList.remove("armed");
        }, 6000);
      },
      { capture: true },
    );
    return button;
  }

  // --- domain cards -------------------------------------------------------------------------

  domainActions(domain) {
    const family = this.familyOf(domain.familyId);
    const may = permissionsOf(family);
    if (!may.change && !may.decide) return null;
    const key = `domain:${domain.id}`;
    const buttons = [];
    const migration = domain.migration;
    const open = migration && OPEN_MIGRATION_STATES.has(migration.state);
    if (may.change) {
      buttons.push(h("button", { type: "button", class: "button small", onclick: () => this.openRecordForm(domain) }, "Add DNS record"));
      if (!domain.pubky && !open) {
        buttons.push(
          this.button("Move to Pubky", "Starting…", key, () => this.startMigration(domain), { name: "migrate" }),
          h("button", { type: "button", class: "button small", onclick: () => this.openRegisterForm(domain) }, "Register on Pubky"),
        );
      }
      // A self-held key's packet is signed by the family: the service can only put the newest
      // one again, so there is nothing to republish before they published one.
      if (domain.pubky && (domain.pubky.keyCustody === "service" || domain.pubky.lastPublishedAt)) {
        buttons.push(this.button("Republish", "Publishing…", key, () => this.republish(domain), { name: "republish" }));
      }
      buttons.push(this.button("Recalculate score", "Recalculating…", key, () => this.recalculate(domain), { name: "recalculate" }));
    }
    return h(
      "div",
      { class: "actions", "data-domain-actions": domain.id },
      migration && (open || migration.state === "failed") ? this.migrationPanel(domain, may) : null,
      buttons.length ? h("div", { class: "action-row", role: "group", "aria-label": `Actions for ${domain.name}` }, buttons) : null,
      this.slots(key),
    );
  }

  migrationPanel(domain, may) {
    const migration = domain.migration;
    const key = `migration:${migration.id}`;
    const steps = migrationSteps(migration);
    const parts = [
      h("p", { class: "panel-title" }, `Moving ${directionLabel(migration.direction)}`),
      h(
        "ol",
        { class: "steps", "aria-label": "Migration progress" },
        steps.map((step) =>
          h("li", { class: `step ${step.state}`, "data-step": step.key, "aria-current": step.state === "current" ? "step" : null }, step.label),
        ),
      ),
    ];
    const checking = migration.state === "pending" || migration.state === "verifying";
    if (may.change && checking) parts.push(this.challenge(migration));
    const buttons = [];
    if (may.change) {
      if (checking) buttons.push(this.button("Check DNS record", "Checking…", key, () => this.advance(migration), { tone: "primary", name: "verify" }));
      if (migration.state === "verified") {
        buttons.push(this.button("Carry out migration", "Publishing…", key, () => this.advance(migration), { tone: "primary", name: "execute" }));
      }
      if (migration.state === "failed") buttons.push(this.button("Retry", "Retrying…", key, () => this.retry(migration), { name: "retry" }));
      if (OPEN_MIGRATION_STATES.has(migration.state) && migration.state !== "publishing") {
        buttons.push(this.confirmButton("Cancel migration", "Really cancel?", "Cancelling…", key, () => this.cancel(migration)));
      }
    }
    if (may.decide && migration.approvalsRequired && DECIDABLE.has(migration.state)) {
      const decided = this.decided.get(migration.id);
      if (decided) parts.push(h("p", { class: "muted small decided" }, `You ${decided} this migration.`));
      else {
        buttons.push(
          this.button("Approve", "Approving…", key, () => this.decide(migration, "approve"), { tone: "primary", name: "approve" }),
          this.button("Reject", "Rejecting…", key, () => this.decide(migration, "reject"), { tone: "danger", name: "reject" }),
        );
      }
    }
    if (buttons.length) parts.push(h("div", { class: "action-row" }, buttons));
    return h("section", { class: "migration-panel", "aria-label": `Migration of ${domain.name}` }, parts, this.slots(key));
  }

  /** The TXT record to publish, each part with a copy button. */
  challenge(migration) {
    if (!migration.challengeValue) {
      if (!this.fetchingChallenge.has(migration.id)) {
        this.fetchingChallenge.add(migration.id);
        Promise.resolve(this.app.refreshMigration(migration.id)).finally(() => this.fetchingChallenge.delete(migration.id));
      }
      return h("p", { class: "muted small" }, "Loading the DNS challenge…");
    }
    const row = (label, value, name) => {
      const box = h("input", { class: "copy-value", readonly: true, value, "aria-label": label, "data-copy": name });
      const key = `${migration.id}:${name}`;
      // A live update redraws the panel: the new status says what the last copy did, too.
      const status = h("span", { class: "copy-status muted small", role: "status", "data-copy-status": key }, this.copied.get(key));
      const copy = h("button", { type: "button", class: "button small ghost", "data-copy-button": name }, "Copy");
      copy.addEventListener("click", () => this.copy(key, box));
      return h("div", { class: "copy-row" }, h("span", { class: "copy-label" }, label), box, copy, status);
    };
    return h(
      "div",
      { class: "challenge" },
      h("p", { class: "small" }, "To prove the domain is yours, add this TXT record at your DNS provider, then check it:"),
      row("TXT name", migration.challengeName, "name"),
      row("TXT value", migration.challengeValue, "value"),
    );
  }

  /** Copy ``box``'s text and say so next to it (in every drawing of it) for four seconds. */
  async copy(key, box) {
    const said = await copyText(box);
    this.showCopied(key, said);
    setTimeout(() => {
      if (this.copied.get(key) === said) this.showCopied(key, "");
    }, 4000);
  }

  showCopied(key, text) {
    if (text) this.copied.set(key, text);
    else this.copied.delete(key);
    for (const status of document.querySelectorAll(".copy-status")) {
      if (status.dataset.copyStatus === key) status.textContent = text;
    }
  }

  async startMigration(domain) {
    const row = await this.api("migrations/", "POST", { domain: domain.id, direction: "dns_to_pubky" });
    this.app.showMigration(row);
    return "";
  }

  async advance(migration) {
    try {
      const row = await this.api(`migrations/${migration.id}/advance/`, "POST");
      this.app.showMigration(row);
      return row.state === "completed" ? "Done: the domain is on Pubky now." : "";
    } finally {
      // A failed check still changed the migration (its error says why): show that too.
      this.app.refreshMigration(migration.id);
    }
  }

  async retry(migration) {
    this.app.showMigration(await this.api(`migrations/${migration.id}/retry/`, "POST"));
    return "";
  }

  async cancel(migration) {
    this.app.showMigration(await this.api(`migrations/${migration.id}/cancel/`, "POST", { reason: "cancelled from the dashboard" }));
    return "";
  }

  async decide(migration, verb) {
    const row = await this.api(`migrations/${migration.id}/${verb}/`, "POST", { comment: "" });
    this.decided.set(migration.id, verb === "approve" ? "approved" : "rejected");
    this.app.showMigration(row); // the panel now says "You approved …" in place of the buttons
    return "";
  }

  async republish(domain) {
    const answer = await this.api(`pubky-domains/${domain.pubky.id}/publish/`, "POST");
    this.app.showPubky(answer.pubky_domain);
    const stored = answer.relays.filter((r) => r.status === "published").length;
    return `Published to ${stored} of ${countOf(answer.relays.length, "relay")}.`;
  }

  async recalculate(domain) {
    const score = await this.api(`domains/${domain.id}/score/recalculate/`, "POST");
    this.app.refreshScore(domain.id);
    return `Score recalculated: ${score.total} of 100.`;
  }

  // --- the family: add a domain ---------------------------------------------------------------

  familyActions(family) {
    if (!permissionsOf(family).change) return null;
    return h(
      "div",
      { class: "family-actions" },
      h("button", { type: "button", class: "button primary small", "data-action": "add-domain", onclick: () => this.openDomainForm(family) }, "Add domain"),
    );
  }

  openDomainForm(family) {
    const form = h(
      "form",
      { class: "action-form", novalidate: true },
      field("Domain name", input("name", { placeholder: "example.com", required: true })),
      field("Visibility", select("visibility", [["private", "Private (family only)"], ["public", "Public"]])),
      field("Registrar", input("registrar", { placeholder: "optional" })),
      h("fieldset", { class: "record-fields" },
        h("legend", {}, "First DNS record (optional)"),
        field("Type", select("type", RECORD_TYPES.map((t) => [t, t]), "A"), { name: "records.0.type" }),
        field("Value", input("value", { placeholder: "192.0.2.10" }), { name: "records.0.value" }),
      ),
      errorSlot(),
      h("div", { class: "form-buttons" }, h("button", { type: "submit", class: "button primary" }, "Add domain")),
    );
    let created = null; // the domain, once added (a refused record is then sent again alone)
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const values = valuesOf(form);
      clearFormErrors(form);
      if (!created && !values.name) {
        showFormErrors(form, localError({ name: "Enter the domain's name, such as example.com." }));
        return;
      }
      await whileBusy(form.querySelector("[type=submit]"), "Adding…", async () => {
        try {
          if (!created) {
            created = await this.api("domains/", "POST", {
              family: family.id,
              name: values.name,
              visibility: values.visibility,
              registrar: values.registrar,
            });
            this.app.showDomain(created);
          }
        } catch (error) {
          showFormErrors(form, error);
          return;
        }
        if (values.value) {
          try {
            await this.api(`domains/${created.id}/dns-records/`, "POST", { name: "@", type: values.type, value: values.value });
          } catch (error) {
            showFormErrors(form, prefixed(error, "records.0"));
            form.querySelector("[name=name]").disabled = true;
            setError(form.querySelector(".form-error"), `${created.name} was added, but its record was refused. Correct it and send it again, or close this form.`);
            return;
          }
        }
        this.closeDialog();
      });
    });
    this.openDialog(`Add a domain to ${family.name}`, form);
  }

  openRecordForm(domain) {
    const form = h(
      "form",
      { class: "action-form", novalidate: true },
      field("Name", input("name", { value: "@" }), { hint: "Relative to the domain; @ is the domain itself." }),
      field("Type", select("type", RECORD_TYPES.map((t) => [t, t]), "A")),
      field("Value", input("value", { placeholder: "192.0.2.10", required: true })),
      field("TTL (seconds)", input("ttl", { type: "number", min: "0", value: "3600", inputmode: "numeric" })),
      errorSlot(),
      h("div", { class: "form-buttons" }, h("button", { type: "submit", class: "button primary" }, "Add record")),
    );
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const values = valuesOf(form);
      clearFormErrors(form);
      if (!values.value) {
        showFormErrors(form, localError({ value: "Enter the record's value." }));
        return;
      }
      await whileBusy(form.querySelector("[type=submit]"), "Adding…", async () => {
        try {
          await this.api(`domains/${domain.id}/dns-records/`, "POST", {
            name: values.name || "@",
            type: values.type,
            value: values.value,
            ttl: values.ttl === "" ? 3600 : Number(values.ttl),
          });
        } catch (error) {
          showFormErrors(form, error);
          return;
        }
        const hint = domain.pubky ? " Republish to put it on Pubky." : "";
        this.say(`domain:${domain.id}`, { note: `${values.type} record added.${hint}` });
        this.closeDialog();
      });
    });
    this.openDialog(`Add a DNS record to ${domain.name}`, form);
  }

  // --- registering on Pubky -----------------------------------------------------------------

  openRegisterForm(domain) {
    let proof = null; // the proven key proof, for a self-held key
    let proofRun = 0;
    const keyField = field("Public key", input("public_key", { placeholder: "52 characters (z-base-32)", maxlength: "52" }), {
      hint: "The key your authenticator app holds.",
    });
    const proofBox = h("div", { class: "key-proof", "aria-live": "polite" });
    const proveButton = h("button", { type: "button", class: "button small" }, "Prove with my authenticator");
    const selfPart = h("div", { class: "self-key", hidden: true }, keyField, proveButton, proofBox);
    const custody = h(
      "fieldset",
      { class: "choices" },
      h("legend", {}, "Who holds the domain's key?"),
      h("label", { class: "choice" }, h("input", { type: "radio", name: "key_custody", value: "service", checked: true }), " This service (simplest; the key is stored encrypted)"),
      h("label", { class: "choice" }, h("input", { type: "radio", name: "key_custody", value: "family" }), " We hold it ourselves (prove it by scanning a QR code)"),
      h("p", { class: "field-error", "data-error-for": "key_custody", hidden: true }),
    );
    const submit = h("button", { type: "submit", class: "button primary" }, "Register on Pubky");
    const form = h("form", { class: "action-form", novalidate: true }, custody, selfPart, errorSlot(), h("div", { class: "form-buttons" }, submit));
    const selfHeld = () => valuesOf(form).key_custody === "family";
    custody.addEventListener("change", () => {
      selfPart.hidden = !selfHeld();
    });
    proveButton.addEventListener("click", async () => {
      clearFormErrors(form);
      proof = null;
      const key = valuesOf(form).public_key;
      if (!key) {
        showFormErrors(form, localError({ public_key: "Enter the public key you hold." }));
        return;
      }
      const run = (proofRun += 1); // a new request replaces the one still waiting
      let started;
      try {
        started = await whileBusy(proveButton, "Starting…", () => this.api("key-proofs/", "POST", { public_key: key }));
      } catch (error) {
        showFormErrors(form, error);
        return;
      }
      proveButton.textContent = "Start again";
      this.showProof(proofBox, started);
      try {
        const decided = await this.waitForProof(started, proofBox, () => run === proofRun);
        if (run === proofRun) proof = decided;
      } catch (error) {
        if (run === proofRun) showFormErrors(form, error);
      }
    });
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      clearFormErrors(form);
      const values = valuesOf(form);
      const body = { family: domain.familyId, name: domain.name, key_custody: values.key_custody, visibility: domain.visibility || "private" };
      if (selfHeld()) {
        if (!proof || proof.public_key !== values.public_key) {
          setError(form.querySelector(".form-error"), "Prove that you hold this key first: scan the QR code with your authenticator.");
          return;
        }
        body.public_key = proof.public_key;
        body.key_proof = proof.id;
      }
      await whileBusy(submit, "Registering…", async () => {
        try {
          const row = await this.api("pubky-domains/", "POST", body);
          this.app.showPubky(row);
          this.say(`domain:${domain.id}`, { note: `Registered on Pubky as pk:${shortKey(row.public_key)}.` });
          this.closeDialog();
        } catch (error) {
          showFormErrors(form, error);
        }
      });
    });
    this.openDialog(`Register ${domain.name} on Pubky`, form);
  }

  showProof(box, proof) {
    box.replaceChildren(
      h("p", { class: "small" }, "Scan this code with your Pubky authenticator and approve the request:"),
      qrSvg(proof.pubkyauth_url, "QR code of the key proof request"),
      h("p", { class: "small" }, "On this device? ", h("a", { href: proof.pubkyauth_url, class: "pubkyauth-link" }, "Open the authenticator")),
      h("p", { class: "proof-status muted small", "data-status": proof.status }, "Waiting for your approval…"),
    );
  }

  /** Poll the proof (each read waits on the relay) until it is decided or the form closes. */
  async waitForProof(started, box, current = () => true) {
    const status = () => box.querySelector(".proof-status");
    let proof = started;
    const dialog = this.dialog;
    while (proof.status === "pending" && dialog && dialog.open && current()) {
      proof = await this.api(`key-proofs/${proof.id}/?wait=${KEY_PROOF_WAIT_S}`, "GET");
    }
    if (!current()) return null;
    const line = status();
    if (line) line.dataset.status = proof.status;
    if (proof.status === "proven") {
      box.replaceChildren(h("p", { class: "good-text proof-status", "data-status": "proven" }, `Key proven: pk:${shortKey(proof.public_key)}. You can register now.`));
      return proof;
    }
    if (line && proof.status !== "pending") {
      line.textContent = proof.status === "expired"
        ? "The request expired before it was approved. Start again."
        : `The proof failed: ${proof.failure_reason || proof.status}. Start again.`;
    }
    return null;
  }

  // --- guardians ------------------------------------------------------------------------------

  guardianInvite(family) {
    if (!permissionsOf(family).administer) return null;
    return h(
      "div",
      { class: "guardian-actions" },
      h("button", { type: "button", class: "button small", "data-action": "invite-guardian", onclick: () => this.openGuardianForm(family) }, "Invite guardian"),
    );
  }

  guardianActions(guardian, family) {
    if (!family || !permissionsOf(family).administer || guardian.status === "revoked") return null;
    const key = `guardian:${guardian.id}`;
    const buttons = [];
    if (guardian.status === "invited") {
      buttons.push(this.button("Mark active", "Saving…", key, () => this.setGuardianStatus(guardian, "active")));
    }
    buttons.push(this.confirmButton("Remove", `Remove ${guardian.name}?`, "Removing…", key, () => this.removeGuardian(guardian)));
    return h("div", { class: "guardian-tools" }, h("div", { class: "action-row" }, buttons), this.slots(key));
  }

  async setGuardianStatus(guardian, status) {
    this.app.showGuardian(await this.api(`guardians/${guardian.id}/`, "PATCH", { status }));
    return "";
  }

  /** Optimistic: the row reads "removed" at once and comes back if the server refuses. */
  async removeGuardian(guardian) {
    const row = document.getElementById(`guardian-${guardian.id}`);
    row?.classList.add("leaving");
    try {
      this.app.showGuardian(await this.api(`guardians/${guardian.id}/`, "PATCH", { status: "revoked" }));
    } catch (error) {
      row?.classList.remove("leaving");
      throw error;
    }
    return "";
  }

  openGuardianForm(family) {
    const form = h(
      "form",
      { class: "action-form", novalidate: true },
      field("Name", input("name", { required: true, autocomplete: "name" })),
      field("Username here", input("username", { placeholder: "optional" }), { hint: "Their account on this service, if they have one: they then decide on migrations here." }),
      field("Email", input("email", { type: "email", placeholder: "optional", autocomplete: "email" })),
      field("Status", select("status", [["invited", "Invited: they still have to agree"], ["active", "Active: they already agreed"]])),
      errorSlot(),
      h("div", { class: "form-buttons" }, h("button", { type: "submit", class: "button primary" }, "Invite")),
    );
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      clearFormErrors(form);
      const values = valuesOf(form);
      if (!values.name) {
        showFormErrors(form, localError({ name: "Enter the guardian's name." }));
        return;
      }
      const body = { name: values.name, email: values.email, status: values.status };
      if (values.username) body.username = values.username;
      await whileBusy(form.querySelector("[type=submit]"), "Inviting…", async () => {
        try {
          this.app.showGuardian(await this.api(`families/${family.id}/guardians/`, "POST", body));
          this.closeDialog();
        } catch (error) {
          showFormErrors(form, error);
        }
      });
    });
    this.openDialog(`Invite a guardian to ${family.name}`, form);
  }

  // --- the dialog -----------------------------------------------------------------------------

  openDialog(title, content) {
    this.closeDialog();
    const heading = h("h2", { id: "action-dialog-title" }, title);
    const close = h("button", { type: "button", class: "button ghost small", "aria-label": "Close" }, "Close");
    const dialog = h(
      "dialog",
      { class: "action-dialog", id: "action-dialog", "aria-labelledby": "action-dialog-title" },
      h("div", { class: "dialog-head" }, heading, close),
      content,
    );
    close.addEventListener("click", () => this.closeDialog());
    dialog.addEventListener("close", () => {
      dialog.remove();
      if (this.dialog === dialog) this.dialog = null;
    });
    document.body.append(dialog);
    this.dialog = dialog;
    dialog.showModal();
    const first = content.querySelector("input:not([type=radio]), select, input");
    if (first) first.focus();
  }

  closeDialog() {
    if (this.dialog && this.dialog.open) this.dialog.close();
    this.dialog = null;
  }
}

/** A check made in the page, shaped like the API's 400 so it shows the same way. */
function localError(fields) {
  const body = Object.fromEntries(Object.entries(fields).map(([k, v]) => [k, [v]]));
  return { status: 400, body, message: "" };
}

/** A record's 400 ({"value": [...]}) as the fields of record row ``prefix`` of a form. */
function prefixed(error, prefix) {
  if (!error || error.status !== 400 || !error.body || "detail" in error.body) return error;
  const body = Object.fromEntries(Object.entries(error.body).map(([k, v]) => [k === "non_field_errors" ? k : `${prefix}.${k}`, v]));
  return { ...error, status: 400, body, message: error.message };
}

/** Copy the text of ``box`` (selected either way); what happened, in words. */
async function copyText(box) {
  box.select();
  try {
    await navigator.clipboard.writeText(box.value);
    return "Copied";
  } catch {
    // No clipboard access (an insecure page, or refused): the text is selected to copy by hand.
    return document.execCommand && document.execCommand("copy") ? "Copied" : "Selected: copy it with Ctrl+C";
  }
}
