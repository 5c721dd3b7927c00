'use strict';
/**
 * The CommonJS entry of cimm: `require('cimm')` gives the same module as `import('cimm')`
 * (one instance, no dual-package state), loaded through Node's require(esm), which is on by
 * default from Node 20.19 and 22.12. Older Node gets an error that says what to do.
 */
try {
  module.exports = require('../dist/lib/index.js');
} catch (error) {
  if (error && (error.code === 'ERR_REQUIRE_ESM' || error.code === 'ERR_REQUIRE_ASYNC_MODULE')) {
    const wrapped = new Error(
      `cimm is an ES module: require('cimm') needs Node's require(esm), on by default from Node 20.19 and 22.12 ` +
        `(this is Node ${process.versions.node}). Upgrade Node, run with --experimental-require-module, ` +
        `or load it with import('cimm').`,
      { cause: error },
    );
    wrapped.code = 'ERR_CIMM_REQUIRE_ESM';
    throw wrapped;
  }
  throw error;
}
