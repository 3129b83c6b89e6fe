// Logging to stderr, so that stdout stays free for results and `--json` summaries.
import { LOG_LEVELS } from './env.ts';

export type Level = (typeof LOG_LEVELS)[number];
const order: Record<Level, number> = { debug: 0, info: 1, warn: 2, error: 3 };
// Read at import, so it cannot throw here: a bad $PROS_LOG is refused by the CLI's checkEnvironment() instead.
let threshold: Level = (LOG_LEVELS as readonly string[]).includes(process.env.PROS_LOG ?? '') ? (process.env.PROS_LOG as Level) : 'info';

export function setLogLevel(level: Level): void {
  threshold = level;
}

function write(level: Level, msg: string): void {
  if (order[level] < order[threshold]) return;
  const prefix = level === 'info' ? '' : `${level}: `;
  process.stderr.write(`${prefix}${msg}\n`);
}

export const log = {
  debug: (m: string) => write('debug', m),
  info: (m: string) => write('info', m),
  warn: (m: string) => write('warn', m),
  error: (m: string) => write('error', m),
};
