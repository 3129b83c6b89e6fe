// Builds the optional native matmul addon at install time. Never fails the install: without a compiler, node
// headers or node-gyp the project still runs, on the explicit-transpose kernel, and says so at start-up.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);

function nodeGypScript() {
  // npm tells its lifecycle scripts where its own node-gyp is.
  const fromNpm = process.env.npm_config_node_gyp;
  if (fromNpm && existsSync(fromNpm)) return fromNpm;
  try {
    return require.resolve('node-gyp/bin/node-gyp.js');
  } catch {}
  // npm bundles node-gyp; find it beside the npm that runs this script.
  const npmCli = process.env.npm_execpath;
  if (npmCli) {
    const candidate = join(dirname(npmCli), '..', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js');
    if (existsSync(candidate)) return candidate;
  }
  const global = join(dirname(process.execPath), '..', 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js');
  return existsSync(global) ? global : null;
}

const gyp = nodeGypScript();
if (process.env.PROS_SKIP_NATIVE === '1') {
  console.log('native matmul: skipped (PROS_SKIP_NATIVE=1); training uses the explicit-transpose kernel');
} else if (!gyp) {
  console.log('native matmul: node-gyp not found; training uses the explicit-transpose kernel');
} else {
  const args = [gyp, 'rebuild'];
  // Use the installed node's own headers when present, so the build needs no download.
  const nodeDir = join(dirname(process.execPath), '..');
  if (existsSync(join(nodeDir, 'include', 'node', 'node_api.h'))) args.push(`--nodedir=${nodeDir}`);
  const r = spawnSync(process.execPath, args, { cwd: here, stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8' });
  if (r.status === 0) {
    console.log('native matmul: built native/build/Release/pros_native.node (OpenBLAS is loaded at run time)');
  } else {
    const why = `${r.stderr ?? ''}${r.stdout ?? ''}`.trim().split('\n').filter((l) => /error/i.test(l))[0] ?? `exit ${r.status}`;
    console.log(`native matmul: build failed (${why.slice(0, 200)}); training uses the explicit-transpose kernel`);
  }
}
