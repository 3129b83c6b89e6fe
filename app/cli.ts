// `pros <command>`: one short table from sub-command group to the module that registers it. Each part of the
// project owns its commands file, so the CLI stays the table of contents of the program.
import { Command } from 'commander';
import { VERSION } from '../src/config.ts';
import { checkEnvironment } from '../src/env.ts';
import { InputError } from '../src/errors.ts';

// A PROS_* variable with a value it cannot take is bad input like a bad flag: one line, exit 2, before any work.
try {
  checkEnvironment();
} catch (e) {
  if (!(e instanceof InputError)) throw e;
  process.stderr.write(`error: ${e.message}\n`);
  process.exit(2);
}

type Registrar = (program: Command) => void;

const parts: Array<() => Promise<{ register: Registrar }>> = [
  () => import('../retrieval/commands.ts'),
  () => import('../retrieval/privacy/commands.ts'),
  () => import('../training/commands.ts'),
  () => import('../training/downstream/commands.ts'),
  () => import('../web/commands.ts'),
  () => import('./demo.ts'),
  () => import('./corpus.ts'),
];

const program = new Command('pros')
  .description('Curate face corpora from crawled images, train ProS face representations, evaluate and browse them.')
  .version(VERSION)
  .showHelpAfterError('(run with --help for usage)')
  .configureOutput({ outputError: (str, write) => write(str) })
  .exitOverride((err) => {
    // commander's own usage errors (unknown flag, missing argument) exit 2 like ours; help and version exit 0.
    process.exit(err.exitCode === 0 ? 0 : 2);
  });

for (const load of parts) {
  (await load()).register(program);
}

await program.parseAsync(process.argv);
