// The floors of docs (DESIGN.md "Top level"), checked on every import, type-only ones included:
// bin/ → app/ → web/ → retrieval/, training/ → src/ (the floor). `npm run check:deps`; CI runs it before the tests.
/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      severity: 'error',
      comment: 'Import cycles make load order and ownership unclear: move the shared piece down a floor.',
      from: {},
      to: { circular: true },
    },
    {
      name: 'floor-imports-nothing-above',
      severity: 'error',
      comment: 'src/ is the floor: config, workspace, contracts, errors, the ANN store, the worker seam, backend, log.',
      from: { path: '^src/' },
      to: { path: '^(app|bin|web|retrieval|training)/' },
    },
    {
      name: 'retrieval-stands-on-the-floor-only',
      severity: 'error',
      comment: 'retrieval/ imports only src/ (and itself).',
      from: { path: '^retrieval/' },
      to: { path: '^(app|bin|web|training)/' },
    },
    {
      name: 'training-stands-on-the-floor-only',
      severity: 'error',
      comment: 'training/ imports only src/ (and itself): what it shares with retrieval/ stands on the floor.',
      from: { path: '^training/' },
      to: { path: '^(app|bin|web|retrieval)/' },
    },
    {
      name: 'web-does-not-import-training',
      severity: 'error',
      comment: 'web/ reads what training wrote through the floor (src/evals.ts, the workspace), not training code.',
      from: { path: '^web/' },
      to: { path: '^(app|bin|training)/' },
    },
    {
      name: 'app-is-the-top',
      severity: 'error',
      comment: 'app/ (the CLI table and the demo) is imported only by bin/ (and by tests and benchmarks).',
      from: { path: '^(src|retrieval|training|web)/' },
      to: { path: '^(app|bin)/' },
    },
    {
      name: 'not-to-unresolvable',
      severity: 'error',
      comment: 'An import that does not resolve is a typo or a missing dependency.',
      from: {},
      to: { couldNotResolve: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    // node_modules here may be a link to a shared install: keep its path as imported.
    preserveSymlinks: true,
    exclude: { path: '^(node_modules|native/build)' },
    tsPreCompilationDeps: true,
    // A worker is loaded by URL, not imported: src/workers.ts's workerUrl('./x.ts', import.meta.url) is read as an
    // import of ./x.ts, so the edge from a pool to its worker file is in the graph and checked like any other.
    exoticRequireStrings: ['workerUrl'],
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default', 'types'],
      extensions: ['.ts', '.js', '.mjs', '.cjs', '.json', '.node'],
    },
  },
};
