// Tests that need a tool this machine may lack (ffmpeg, python3, the native addon): where it is missing they skip
// visibly, the reason in the title; in CI (CI=true, set by .ci/run, which installs everything) they fail instead.
import test from 'ava';

export const inCI = process.env.CI === 'true' || process.env.CI === '1';

type Register = typeof test.serial;

/** `test` (or `test.serial`) when `available`; otherwise a visible skip here, or a failing test in CI. */
export function testIf(available: boolean, missing: string, opts: { serial?: boolean } = {}): Register {
  const base = (opts.serial ? test.serial : test) as Register;
  if (available) return base;
  if (inCI) {
    return ((title: string) => base(title, (t) => t.fail(`${missing}: CI must run this test (.ci/run installs it)`))) as unknown as Register;
  }
  const skip = (opts.serial ? test.serial.skip : test.skip) as Register['skip'];
  return ((title: string, ...rest: unknown[]) => (skip as (...a: unknown[]) => void)(`${title} [skipped: ${missing}]`, ...rest)) as unknown as Register;
}
