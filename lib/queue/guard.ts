/**
 * Preloaded (`node --import`) into the `cimm train` child a queue worker spawns. The child
 * shares an IPC channel with its worker; when the worker dies (even by SIGKILL) the channel
 * closes and the child stops at once, so a dead worker leaves no orphan training on: the
 * job's last checkpoint stays in the store for the worker that takes the job over.
 */
if (process.channel) {
  process.channel.unref(); // the channel alone must not keep the child alive
  process.on('disconnect', () => process.kill(process.pid, 'SIGKILL'));
}

export {};
