// Progress for long work: a live bar with rate and ETA on a terminal, a line every few seconds otherwise
// (CI logs, pipes), and nothing at all under --json or --quiet.
import cliProgress from 'cli-progress';
import { envChoice } from './env.ts';

export interface Progress {
  /** Advance by `n` finished items; `total` may grow while sources are still being read. */
  tick(n?: number, extra?: Record<string, string | number>): void;
  setTotal(total: number): void;
  stop(): void;
}

export interface ProgressOptions {
  label: string;
  total: number;
  unit?: string;
  silent?: boolean;
}

export function progress(opts: ProgressOptions): Progress {
  const unit = opts.unit ?? 'items';
  if (opts.silent || envChoice('PROS_PROGRESS', ['on', 'off'], 'on') === 'off') {
    return { tick() {}, setTotal() {}, stop() {} };
  }
  if (process.stderr.isTTY) {
    const bar = new cliProgress.SingleBar(
      {
        format: `${opts.label} [{bar}] {value}/{total} ${unit} | {rate}/s | ETA {eta_formatted} {info}`,
        stream: process.stderr,
        hideCursor: true,
        etaBuffer: 50,
      },
      cliProgress.Presets.shades_classic,
    );
    const started = Date.now();
    let value = 0;
    bar.start(opts.total, 0, { rate: '0.0', info: '' });
    return {
      tick(n = 1, extra) {
        value += n;
        const rate = (value / Math.max(1e-3, (Date.now() - started) / 1000)).toFixed(1);
        const info = extra ? Object.entries(extra).map(([k, v]) => `${k}=${v}`).join(' ') : '';
        bar.update(value, { rate, info });
      },
      setTotal(total) {
        bar.setTotal(total);
      },
      stop() {
        bar.stop();
      },
    };
  }
  // Not a terminal: a plain line at most every 5 s.
  const started = Date.now();
  let value = 0;
  let total = opts.total;
  let last = 0;
  const line = (extra?: Record<string, string | number>) => {
    const secs = (Date.now() - started) / 1000;
    const rate = value / Math.max(1e-3, secs);
    const eta = rate > 0 && total > value ? `${Math.round((total - value) / rate)}s` : '-';
    const info = extra ? ' ' + Object.entries(extra).map(([k, v]) => `${k}=${v}`).join(' ') : '';
    process.stderr.write(`${opts.label}: ${value}/${total} ${unit} ${rate.toFixed(1)}/s ETA ${eta}${info}\n`);
  };
  return {
    tick(n = 1, extra) {
      value += n;
      if (Date.now() - last > 5000) {
        last = Date.now();
        line(extra);
      }
    },
    setTotal(t) {
      total = t;
    },
    stop() {
      line();
    },
  };
}
