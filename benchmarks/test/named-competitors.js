'use strict';
// Shared by the targets tests (not a test file itself: node --test runs *.test.js only).
const assert = require('node:assert/strict');

/**
 * Asserts that every [group, competitor name] a target names (`named`: key -> [group, name])
 * is a competitor of that group in `groups` (benchmarks/groups, loaded by the caller after it set
 * up its environment).
 */
function assertNamedCompetitorsExist(groups, named) {
  for (const [key, [group, name]] of Object.entries(named)) {
    const g = groups.find((x) => x.name === group);
    assert.ok(g, `${key}: no group ${group}`);
    assert.ok(
      g.competitors.some((c) => c.name === name),
      `${key}: ${group} has no competitor "${name}"`,
    );
  }
}

module.exports = { assertNamedCompetitorsExist };
