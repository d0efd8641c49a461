// Unit tests of the dashboard's action helpers (actions.js, forms.js, qr.js) under node's own
// test runner; tests/browser/test_scripts.py runs every *.test.mjs here.

import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { test } from "node:test";

import { migrationSteps, permissionsOf } from "./dashboard/actions.js";
import { actionMessage, flattenErrors, formErrors } from "./dashboard/forms.js";
import { qrMatrix, qrPath } from "./dashboard/qr.js";

test("who may do what follows the family's role and guardianship", () => {
  assert.deepEqual(permissionsOf({ myRole: "owner" }), { change: true, administer: true, decide: false });
  assert.deepEqual(permissionsOf({ myRole: "admin" }), { change: true, administer: true, decide: false });
  assert.deepEqual(permissionsOf({ myRole: "member" }), { change: true, administer: false, decide: false });
  assert.deepEqual(permissionsOf({ myRole: "viewer" }), { change: false, administer: false, decide: false });
  assert.deepEqual(permissionsOf({ myRole: null, isGuardian: true }), { change: false, administer: false, decide: true });
  assert.deepEqual(permissionsOf(null), { change: false, administer: false, decide: false });
});

test("a migration's steps say where it is", () => {
  const states = (migration) => migrationSteps(migration).map((s) => `${s.key}:${s.state}`);
  assert.deepEqual(states({ state: "pending", approvalsRequired: 1, approvals: 0 }), [
    "dns:current", "approval:todo", "publishing:todo", "done:todo",
  ]);
  assert.deepEqual(states({ state: "verified", approvalsRequired: 1, approvals: 0 }), [
    "dns:done", "approval:current", "publishing:todo", "done:todo",
  ]);
  assert.deepEqual(states({ state: "verified", approvalsRequired: 1, approvals: 1 }), [
    "dns:done", "approval:done", "publishing:current", "done:todo",
  ]);
  assert.deepEqual(states({ state: "verified", approvalsRequired: 0 }), ["dns:done", "publishing:current", "done:todo"]);
  assert.deepEqual(states({ state: "completed", approvalsRequired: 0 }), ["dns:done", "publishing:done", "done:done"]);
  assert.equal(migrationSteps({ state: "verified", approvalsRequired: 2, approvals: 1 })[1].label, "Guardian approval (1 of 2)");
});

test("the API's field errors are flattened to the fields of a form", () => {
  assert.deepEqual(flattenErrors({ name: ["Enter a valid domain."], records: [{}, { value: ["Bad IPv4."] }] }), {
    name: "Enter a valid domain.",
    "records.1.value": "Bad IPv4.",
  });
  const error = { status: 400, message: "", body: { name: ["not a domain name"], visibility: ["bad choice"], non_field_errors: ["Nope"] } };
  assert.deepEqual(formErrors(error, ["name"]), {
    fields: { name: "Not a domain name." },
    general: "visibility: Bad choice. Nope.",
  });
});

test("refusals read in plain words", () => {
  assert.match(actionMessage({ network: true }), /cannot be reached/);
  assert.equal(actionMessage({ status: 403, message: "Only administrators." }), "You are not allowed to do this. Only administrators.");
  assert.match(actionMessage({ status: 429, message: "" }), /Too many requests/);
  assert.match(actionMessage({ status: 500, message: "x" }), /server had a problem \(HTTP 500\)/);
  assert.match(
    actionMessage({ status: 502, message: "HTTPConnectionPool(host='r'): Max retries exceeded (Connection refused)" }),
    /^A Pubky relay or homeserver did not answer \(connection refused/,
  );
  assert.match(
    actionMessage({
      status: 409,
      message: "_pubky-challenge.a.example TXT does not hold the challenge token of migration 3 (found no TXT record); publish TXT \"x\" there and verify again",
    }),
    /^The DNS check did not find the challenge record yet/,
  );
  assert.equal(
    actionMessage({ status: 409, message: "migration 5 of a.example needs 2 guardian approval(s); 1 given" }),
    "This migration needs 2 guardian approvals before it can be carried out, and has 1 so far. The family's guardians decide on their dashboard.",
  );
  // Not a 400 with fields: the whole message goes to the form.
  assert.deepEqual(formErrors({ status: 409, message: "a.example already has a migration in progress" }, ["name"]), {
    fields: {},
    general: "A.example already has a migration in progress.",
  });
});

test("a QR code has its three finder patterns and one path of dark modules", () => {
  const matrix = qrMatrix("pubkyauth:///?caps=/pub/:rw&secret=abc&relay=http://127.0.0.1:1/link");
  const size = matrix.length;
  assert.equal((size - 17) % 4, 0, "a QR version is 17 + 4n modules wide");
  for (const [row, col] of [[0, 0], [0, size - 7], [size - 7, 0]]) {
    for (let i = 0; i < 7; i += 1) {
      assert.equal(matrix[row][col + i], true, "finder top edge");
      assert.equal(matrix[row + 6][col + i], true, "finder bottom edge");
    }
    assert.equal(matrix[row + 1][col + 1], false, "finder ring");
    assert.equal(matrix[row + 3][col + 3], true, "finder centre");
  }
  const path = qrPath([[true, true, false], [false, false, true]]);
  assert.equal(path, "M4 4h2v1h-2zM6 5h1v1h-1z");
});

test("the vendored QR encoder is the pinned release", () => {
  const source = readFileSync(new URL("./dashboard/vendor/qrcode-generator/qrcode.js", import.meta.url));
  const digest = createHash("sha256").update(source).digest("hex");
  assert.equal(digest, "ea91d7118a5395289170da848b7c6758b996163bfbccf312591ab65a4911b7c0");
});
