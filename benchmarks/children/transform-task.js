'use strict';
// The piscina task of the async-pool group: one transformer stage (x => x + 1).
module.exports = (x) => x + 1;
