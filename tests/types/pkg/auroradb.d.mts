// pkg/auroradb.d.mts as scripts/build-web.sh makes it: a copy of web/js/auroradb.d.ts. This
// re-export stands in for the copy, so that tests/types/ imports the package as a caller
// of pkg/ does (`./pkg/auroradb.mjs`).
export * from '../../../web/js/auroradb.js';
export { default } from '../../../web/js/auroradb.js';
