// The native sources a build of the addon compiles (and binding.gyp), and one hash over them: the prebuild in
// prebuilds/<platform>-<arch>/ records the hash it was built from (sources.sha256), so
// `npm pack` can tell a current prebuild from a stale one (scripts/prepack.js).
'use strict';
const crypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');

const root = path.join(__dirname, '..');

function nativeSources() {
  const files = ['binding.gyp'];
  for (const dir of ['native/core', 'native/addon']) {
    for (const f of fs.readdirSync(path.join(root, dir)).sort()) {
      if (/\.(h|cc)$/.test(f)) files.push(`${dir}/${f}`);
    }
  }
  return files;
}

/** sha256 over the names and contents of binding.gyp and every native source. */
function nativeSourcesHash() {
  const h = crypto.createHash('sha256');
  for (const f of nativeSources()) {
    h.update(`${f}\0`);
    h.update(fs.readFileSync(path.join(root, f)));
    h.update('\0');
  }
  return h.digest('hex');
}

const prebuildDir = path.join(root, 'prebuilds', `${process.platform}-${process.arch}`);
const stampFile = path.join(prebuildDir, 'sources.sha256');

module.exports = { nativeSources, nativeSourcesHash, prebuildDir, stampFile };
