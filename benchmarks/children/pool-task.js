'use strict';
// The task run by the worker pools (piscina, tinypool): returns its argument.
module.exports = (x) => x;
