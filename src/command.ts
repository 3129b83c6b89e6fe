// What every `pros` command shares: the common flags, turning them into a config and a workspace, and a uniform
// way to end (summary on stdout as JSON with --json, exit code 0 only on success, a clear message on bad input).
import { Command, Option, InvalidArgumentError } from 'commander';
import { loadConfig, type DeepPartial, type ProsConfig, type Backend } from './config.ts';
import { openWorkspace, type Workspace } from './workspace.ts';
import { log, setLogLevel } from './log.ts';
import { InputError } from './errors.ts';

export interface CommonOptions {
  workspace?: string;
  config?: string;
  backend?: Backend;
  json?: boolean;
  quiet?: boolean;
  verbose?: boolean;
}

/** The options every command shares; `workspace: false` for a command that opens none (pros worker). */
export function withCommonOptions(cmd: Command, opts: { workspace?: boolean } = {}): Command {
  if (opts.workspace !== false) cmd.option('-w, --workspace <dir>', 'workspace folder (database, index, curated sets, runs)');
  return cmd
    .option('-c, --config <file>', 'JSON config deep-merged over the defaults')
    .addOption(
      new Option('--backend <name>', 'tensor backend').choices(['auto', 'tensorflow-gpu', 'tensorflow', 'wasm', 'cpu']),
    )
    .option('--json', 'print a machine-readable summary on stdout')
    .option('-q, --quiet', 'no progress output')
    .option('-v, --verbose', 'debug logging');
}

export function buildConfig(opts: CommonOptions, flags: DeepPartial<ProsConfig> = {}): ProsConfig {
  const top: DeepPartial<ProsConfig> = { ...flags };
  if (opts.workspace) top.workspace = opts.workspace;
  if (opts.backend) top.backend = opts.backend;
  return loadConfig(opts.config, top);
}

export interface Context {
  config: ProsConfig;
  opts: CommonOptions;
  ws: Workspace;
}

export function openContext(opts: CommonOptions, flags: DeepPartial<ProsConfig> = {}): Context {
  if (opts.verbose) setLogLevel('debug');
  if (opts.json || opts.quiet) setLogLevel(opts.verbose ? 'debug' : 'warn');
  const config = buildConfig(opts, flags);
  const ws = openWorkspace(config.workspace);
  return { config, opts, ws };
}

/** Integer flag parser for commander that rejects junk such as `--k abc` or `--k 1.5`. */
export function intArg(min = 0) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < min) throw new InvalidArgumentError(`expected an integer ≥ ${min}, got "${value}"`);
    return n;
  };
}

export function floatArg(min = -Infinity, max = Infinity) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isFinite(n) || n < min || n > max) {
      throw new InvalidArgumentError(`expected a number in [${min}, ${max}], got "${value}"`);
    }
    return n;
  };
}

/**
 * Runs a command body: prints `human` text or the JSON summary, and maps failures to exit codes
 * (2: bad input or config, 1: anything else).
 */
export async function run<T>(
  opts: CommonOptions,
  body: () => Promise<T>,
  human?: (result: T) => string,
): Promise<void> {
  try {
    const result = await body();
    if (opts.json) process.stdout.write(JSON.stringify(result, null, 2) + '\n');
    else if (human) process.stdout.write(human(result) + '\n');
  } catch (err) {
    // The CLI's one mapping of bad input (InputError and its kinds, ConfigError among them) to exit code 2.
    if (err instanceof InputError) {
      log.error(err.message);
      process.exitCode = 2;
    } else {
      log.error((err as Error).stack ?? String(err));
      process.exitCode = 1;
    }
  }
}
