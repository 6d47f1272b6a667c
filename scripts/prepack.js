#!/usr/bin/env node
// npm's `prepack` hook (npm pack, npm publish, and installs from git): the tarball gets a
// fresh dist/ (TypeScript build) and a prebuild that matches the native sources. A prebuild
// already built from the same sources (`npm run prebuild` records their hash) is kept;
// otherwise it is rebuilt here, which needs a compiler. A fresh clone thus packs exactly what
// a release ships, whatever was or was not built before.
'use strict';
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const { nativeSourcesHash, stampFile } = require('./native-sources');

// Everything this hook and its builds print goes to stderr: `npm pack --json` keeps a clean stdout.
const run = (script) => execFileSync(process.execPath, [path.join(__dirname, script)], { stdio: ['inherit', 2, 2] });

run('build-ts.js');
let recorded = '';
try {
  recorded = fs.readFileSync(stampFile, 'utf8').trim();
} catch {
  // no prebuild yet
}
if (recorded === nativeSourcesHash()) {
  console.error('prepack: the prebuild matches the native sources');
} else {
  console.error(recorded ? 'prepack: the prebuild is stale, rebuilding' : 'prepack: no prebuild yet, building it');
  run('prebuild.js');
}
