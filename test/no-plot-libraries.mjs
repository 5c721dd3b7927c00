/**
 * Node module hooks that make vega and vega-lite unresolvable, as in a consumer that did not
 * install the optional peer dependencies (test/cli.test.ts registers them with --import).
 */
export async function resolve(specifier, context, next) {
  if (specifier === 'vega' || specifier === 'vega-lite') {
    throw Object.assign(new Error(`Cannot find package '${specifier}' (test/no-plot-libraries.mjs)`), {
      code: 'ERR_MODULE_NOT_FOUND',
    });
  }
  return next(specifier, context);
}
