'use strict';
// The smallest forked child: says it is ready, then exits when the parent disconnects. What
// `child_process.fork() until ready` costs, the baseline of a cold pcall.
process.send('ready');
process.once('disconnect', () => process.exit(0));
