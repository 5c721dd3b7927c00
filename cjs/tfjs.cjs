'use strict';
/** The CommonJS entry of cimm/tfjs: the ES module itself, through require(esm) (require-esm.cjs). */
module.exports = require('./require-esm.cjs')(() => require('../dist/lib/tfjs/index.js'), 'cimm/tfjs');
