#!/usr/bin/env node
// `npm run prebuild`: the Node-API prebuild that ships in the npm tarball, for this platform
// (prebuilds/linux-x64/shmsync.node), built by prebuildify against Node-API 8 (loads on every
// Node >= 20), stripped. Records the hash of the sources it was built from, so `npm pack`
// (scripts/prepack.js) rebuilds it only when the native sources changed. Needs a compiler.
'use strict';
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const { nativeSourcesHash, prebuildDir, stampFile } = require('./native-sources');

const root = path.join(__dirname, '..');
const hash = nativeSourcesHash();
fs.rmSync(stampFile, { force: true });
const prebuildify = path.join(path.dirname(require.resolve('prebuildify/package.json')), 'bin.js');
const r = spawnSync(process.execPath, [prebuildify, '--napi', '--strip', '--target', '20.0.0'], {
  cwd: root,
  stdio: 'inherit',
});
if (r.status !== 0) {
  console.error(`prebuild: prebuildify failed (${r.signal ?? `exit ${r.status}`})`);
  process.exit(1);
}
const built = fs.readdirSync(prebuildDir).filter((f) => f.endsWith('.node'));
if (built.length !== 1) {
  console.error(`prebuild: expected one .node file in ${prebuildDir}, found ${built.join(', ') || 'none'}`);
  process.exit(1);
}
fs.writeFileSync(stampFile, `${hash}\n`);
console.log(`prebuild: ${path.relative(root, path.join(prebuildDir, built[0]))} (sources ${hash.slice(0, 12)})`);
