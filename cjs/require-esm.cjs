'use strict';
/**
 * Load one of cimm's ES modules from CommonJS: `require('cimm')` and `require('cimm/tfjs')`
 * give the same module as `import()` (one instance, no dual-package state), loaded through
 * Node's require(esm), which is on by default from Node 20.19 and 22.12. Older Node gets an
 * error that says what to do.
 */
module.exports = function requireEsm(load, specifier) {
  try {
    return load();
  } catch (error) {
    if (error && (error.code === 'ERR_REQUIRE_ESM' || error.code === 'ERR_REQUIRE_ASYNC_MODULE')) {
      const wrapped = new Error(
        `cimm is an ES module: require('${specifier}') needs Node's require(esm), on by default from Node 20.19 and 22.12 ` +
          `(this is Node ${process.versions.node}). Upgrade Node, run with --experimental-require-module, ` +
          `or load it with import('${specifier}').`,
        { cause: error },
      );
      wrapped.code = 'ERR_CIMM_REQUIRE_ESM';
      throw wrapped;
    }
    throw error;
  }
};
