#!/usr/bin/env node
// shmsync demo: `npm run demo` (builds dist/ first). Runs each section in order; a section is a
// module in this directory exporting { title, run }, and its child-process side lives in
// peer.js. To add one (mutex, queue, pcall ...), create the file and list it below.
'use strict';

const sections = [require('./shared-memory'), require('./mutex'), require('./queue'), require('./pcall')];

async function main() {
  console.log('shmsync demo\n');
  for (const [i, section] of sections.entries()) {
    console.log(`${i + 1}. ${section.title}`);
    await section.run();
    console.log('');
  }
  console.log('All done.');
}

main().catch((err) => {
  console.error(`\ndemo failed: ${err.stack || err}`);
  process.exitCode = 1;
});
