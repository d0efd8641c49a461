// Unit tests of the chart helpers (axes, nice numbers, score points), run with node's own test
// runner by tests/browser/test_scripts.py.

import assert from "node:assert/strict";
import { test } from "node:test";

import { DAY, HOUR, niceCeil, scorePoints, tickLabel, timeTicks } from "./dashboard/charts.js";

test("nice maxima are 1, 2 or 5 times a power of ten, never under the floor", () => {
  assert.deepEqual([0, 1, 3, 7, 11, 48, 51, 260].map((v) => niceCeil(v)), [1, 1, 5, 10, 20, 50, 100, 500]);
  assert.equal(niceCeil(0, 10), 10);
  assert.equal(niceCeil(0.3), 1);
});

test("a day of data gets hour ticks on whole hours, labelled by time and by date at midnight", () => {
  const start = new Date(2026, 2, 1, 13, 20).getTime();
  const end = start + DAY;
  const { step, ticks } = timeTicks(start, end, 4);
  assert.equal(step, 6 * HOUR);
  assert.ok(ticks.length >= 3 && ticks.length <= 5);
  for (const t of ticks) {
    assert.ok(t >= start && t <= end);
    assert.equal(new Date(t).getMinutes(), 0);
    assert.equal(new Date(t).getHours() % 6, 0);
  }
  assert.equal(tickLabel(new Date(2026, 2, 1, 18).getTime(), step), "18:00");
  assert.equal(tickLabel(new Date(2026, 2, 2, 0).getTime(), step), "Mar 2");
});

test("a week of data gets day ticks at midnight, labelled by date", () => {
  const start = new Date(2026, 2, 1, 9).getTime();
  const { step, ticks } = timeTicks(start, start + 6 * DAY, 7);
  assert.equal(step, DAY);
  assert.deepEqual(
    ticks.map((t) => tickLabel(t, step)),
    ["Mar 2", "Mar 3", "Mar 4", "Mar 5", "Mar 6", "Mar 7"],
  );
});

test("score rows become points in time order with their five components", () => {
  const rows = [
    { id: 2, total: 40, calculated_at: "2026-03-02T10:00:00Z", provider_independence: 10, key_ownership: 10, censorship_resistance: 10, privacy: 5, portability: 5 },
    { id: 1, total: 20, calculated_at: "2026-03-01T10:00:00Z", provider_independence: 5, key_ownership: 5, censorship_resistance: 5, privacy: 5, portability: 0 },
    { id: 3, total: 0, calculated_at: "not a time" },
  ];
  const points = scorePoints(rows);
  assert.deepEqual(points.map((p) => p.total), [20, 40]);
  assert.equal(points[0].at, Date.parse("2026-03-01T10:00:00Z"));
  assert.deepEqual(points[1].parts, {
    provider_independence: 10,
    key_ownership: 10,
    censorship_resistance: 10,
    privacy: 5,
    portability: 5,
  });
});
