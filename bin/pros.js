#!/usr/bin/env node
// The CLI runs the TypeScript sources directly through tsx: no build step between an edit and a run.
import { register } from 'tsx/esm/api';
register();
await import('../app/cli.ts');
