#!/usr/bin/env node
// publint on a packed tarball: exports, types, main and files of the package as it ships.
// Usage: node scripts/publint-tarball.mjs shmsync-0.1.0.tgz
// Prints every message (suggestions too) and exits non-zero on any error or warning (strict).
import fs from 'node:fs';
import { publint } from 'publint';
import { formatMessage } from 'publint/utils';

const tarball = process.argv[2];
if (!tarball) {
  console.error('usage: node scripts/publint-tarball.mjs <package.tgz>');
  process.exit(2);
}
const bytes = fs.readFileSync(tarball);
const { messages, pkg } = await publint({
  pack: { tarball: bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) },
  level: 'suggestion',
  strict: true,
});
for (const m of messages) console.log(`publint ${m.type}: ${formatMessage(m, pkg)}`);
const bad = messages.filter((m) => m.type !== 'suggestion').length;
console.log(`publint: ${messages.length} message(s), ${bad} error(s)/warning(s) in ${tarball}`);
process.exitCode = bad === 0 ? 0 : 1;
