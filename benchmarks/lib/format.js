'use strict';
// Human units: durations from ns, rates in k/M per second, ratios as "12.3x faster".

function sig(x, digits = 3) {
  if (!Number.isFinite(x)) return String(x);
  if (x === 0) return '0';
  const d = Math.max(0, digits - 1 - Math.floor(Math.log10(Math.abs(x))));
  return x.toFixed(Math.min(d, 3));
}

function duration(ns) {
  if (!Number.isFinite(ns)) return '—';
  if (ns < 1e3) return `${sig(ns)} ns`;
  if (ns < 1e6) return `${sig(ns / 1e3)} µs`;
  if (ns < 1e9) return `${sig(ns / 1e6)} ms`;
  return `${sig(ns / 1e9)} s`;
}

function rate(perSecond) {
  if (!Number.isFinite(perSecond)) return '—';
  if (perSecond >= 1e6) return `${sig(perSecond / 1e6)} M/s`;
  if (perSecond >= 1e3) return `${sig(perSecond / 1e3)} k/s`;
  return `${sig(perSecond)} /s`;
}

function megabytes(bytesPerSecond) {
  if (!Number.isFinite(bytesPerSecond)) return '—';
  return `${sig(bytesPerSecond / 1e6)} MB/s`;
}

function count(n) {
  if (n >= 1e6) return `${sig(n / 1e6)} M`;
  if (n >= 1e4) return `${sig(n / 1e3)} k`;
  return String(n);
}

/** `ratio` > 1 means shmsync is better (faster / more throughput / lower latency). */
function ratio(r) {
  if (!Number.isFinite(r)) return '—';
  return r >= 1 ? `${sig(r, r >= 100 ? 4 : 3)}x faster` : `${sig(r, 2)}x (slower)`;
}

function percent(fraction) {
  return `±${Math.round(fraction * 100)} %`;
}

function bytes(n) {
  const gib = n / 2 ** 30;
  return gib >= 1 ? `${sig(gib)} GiB` : `${sig(n / 2 ** 20)} MiB`;
}

module.exports = { duration, rate, megabytes, count, ratio, percent, bytes, sig };
