'use strict';
// placeholder until the Actor/Relay API lands (branch actor)
const { loadShmsync } = require('./shmsync');
function hasRelay() {
  const { shmsync, error } = loadShmsync();
  if (error) return `shmsync could not be loaded: ${error.message}`;
  return typeof shmsync.Relay === 'function' ? true : 'Relay/Actor (issue 12) are not in this build';
}
function actorPipeline() {
  return async () => {
    throw new Error('not yet');
  };
}
module.exports = { actorPipeline, hasRelay };
