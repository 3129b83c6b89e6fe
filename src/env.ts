// The PROS_* environment variables: one table (README.md's "Environment variables" is this table) and the readers
// that check them, so a typo (PROS_MATMUL=nativ) is an error naming the allowed values, never a silent default.
import { InputError } from './errors.ts';

export interface EnvVar {
  name: string;
  /** Allowed values, for the enumerated ones; checked by checkEnvironment() when the CLI starts. */
  values?: readonly string[];
  /** An integer ≥ this, for the numeric ones. */
  minInt?: number;
  /** Read by tests or the install script only. */
  testOnly?: boolean;
}

export const LOG_LEVELS = ['debug', 'info', 'warn', 'error'] as const;
export const MATMUL_PATHS = ['auto', 'native', 'explicit', 'stock'] as const;

export const ENV_VARS: readonly EnvVar[] = [
  { name: 'PROS_LOG', values: LOG_LEVELS },
  { name: 'PROS_PROGRESS', values: ['on', 'off'] },
  { name: 'PROS_MATMUL', values: MATMUL_PATHS },
  { name: 'PROS_BLAS_THREADS', minInt: 1 },
  { name: 'PROS_FACE_CONV', values: ['auto', 'stock'] },
  { name: 'PROS_NATIVE_ADDON' },
  { name: 'PROS_OPENBLAS' },
  { name: 'PROS_FFMPEG' },
  { name: 'PROS_SKIP_NATIVE', values: ['1', '0'], testOnly: true },
  { name: 'PROS_FAULT_FORGET', testOnly: true },
  { name: 'PROS_FAULT_WORKER_DIE', testOnly: true },
  { name: 'PROS_KNN_STEPS', minInt: 1, testOnly: true },
  { name: 'PROS_KNN_TARGET', values: ['sinkhorn', 'sharpen'], testOnly: true },
];

/** An enumerated variable's value, `fallback` when unset or empty; anything else is an InputError listing the choices. */
export function envChoice<T extends string>(name: string, choices: readonly T[], fallback: T): T {
  const v = process.env[name];
  if (v === undefined || v === '') return fallback;
  if (!(choices as readonly string[]).includes(v)) throw new InputError(`${name} must be one of ${choices.join(', ')}, got ${JSON.stringify(v)}`);
  return v as T;
}

/** A numeric variable's value, undefined when unset or empty; anything but an integer ≥ `min` is an InputError. */
export function envInt(name: string, min: number): number | undefined {
  const v = process.env[name];
  if (v === undefined || v === '') return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min) throw new InputError(`${name} must be an integer ≥ ${min}, got ${JSON.stringify(v)}`);
  return n;
}

/** Checks every enumerated and numeric PROS_* variable (the CLI does, before any command runs). */
export function checkEnvironment(): void {
  for (const v of ENV_VARS) {
    if (v.values) envChoice(v.name, v.values, v.values[0]!);
    if (v.minInt !== undefined) envInt(v.name, v.minInt);
  }
}
