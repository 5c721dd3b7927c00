'use strict';
/** The CommonJS entry of cimm: the ES module itself, through require(esm) (require-esm.cjs). */
module.exports = require('./require-esm.cjs')(() => require('../dist/lib/index.js'), 'cimm');
