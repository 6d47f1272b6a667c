'use strict';
// The library under test, from the repo's built dist/ (`npm run build:ts` at the root).
// Loaded lazily and once; a failure is kept, so peer rows still run and shmsync rows say why.
const fs = require('node:fs');
const path = require('node:path');

const root = path.join(__dirname, '..', '..');
const distDir = path.join(root, 'dist');
let cached;

/** dist/addon/binding.js (dist/binding.js in builds before the src/addon/ move). */
function bindingFile() {
  const now = path.join(distDir, 'addon', 'binding.js');
  const old = path.join(distDir, 'binding.js');
  return fs.existsSync(now) || !fs.existsSync(old) ? now : old;
}

/** { shmsync, binding } or { error } — never throws. */
function loadShmsync() {
  if (cached) return cached;
  try {
    cached = {
      shmsync: require(path.join(distDir, 'index.js')),
      binding: require(bindingFile()).binding,
    };
  } catch (error) {
    cached = { error };
  }
  return cached;
}

/** The public API (what users import); throws if it could not be loaded. */
function shmsync() {
  const { shmsync: api, error } = loadShmsync();
  if (error) throw error;
  return api;
}

/** The raw addon, for floor measurements only (the public API goes through `shmsync()`). */
function binding() {
  const { binding: b, error } = loadShmsync();
  if (error) throw error;
  return b;
}

module.exports = { loadShmsync, shmsync, binding, root, distDir };
