'use strict';
// Order statistics over samples and latency arrays.

function sorted(values) {
  return Float64Array.from(values).sort();
}

/** Nearest-rank percentile (0..100) of an already sorted array. */
function percentileSorted(s, p) {
  if (s.length === 0) return NaN;
  const rank = Math.ceil((p / 100) * s.length);
  return s[Math.min(s.length - 1, Math.max(0, rank - 1))];
}

function percentile(values, p) {
  return percentileSorted(sorted(values), p);
}

function median(values) {
  const s = sorted(values);
  if (s.length === 0) return NaN;
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

/** Half the min..max range relative to the median: "±x %" across samples. */
function spread(values) {
  if (values.length < 2) return 0;
  const s = sorted(values);
  const m = median(s);
  return m > 0 ? (s[s.length - 1] - s[0]) / 2 / m : 0;
}

module.exports = { median, percentile, percentileSorted, spread, sorted };
