// Worker bootstrap in plain JS: on Node 20 a worker's `--import tsx` does not reach its own entry module, so the
// worker registers tsx itself and then loads the TypeScript worker.
import { register } from 'tsx/esm/api';

register();
await import('./worker.ts');
