// `pros curation <action>`: the curation decisions of the web UI, from the command line (same functions, same
// decisions table), for scripts and for people who prefer a terminal.
import type { Command } from 'commander';
import { userInfo } from 'node:os';
import { openContext, run, withCommonOptions, type CommonOptions } from '../src/command.ts';
import { InputError } from '../src/errors.ts';
import { clip, parseFaceId } from '../src/input.ts';
import { accept, addToSet, decisionsFor, reject, removeFromSet, tag, untag, type CurationResult } from './curation.ts';

function faceIds(args: string[]): number[] {
  return args.map((a) => {
    const id = parseFaceId(a);
    if (id === undefined) throw new InputError(`"${clip(a, 40)}" is not a face id (a positive integer below 2^53)`);
    return id;
  });
}

function report(r: CurationResult): string {
  if (r.missing.length) throw new InputError(`no face with id ${r.missing.join(', ')}: nothing written`);
  return `${r.action}${r.value ? ` ${r.value}` : ''}: ${r.applied} face${r.applied === 1 ? '' : 's'}`;
}

type Flags = CommonOptions & { who?: string };

export function registerCuration(program: Command): void {
  const group = program.command('curation').description('Accept, reject, tag or add faces to sets, as the web UI does (recorded with who and when)');
  const act = (name: string, description: string, valueName: string | null, fn: (ws: Parameters<typeof accept>[0], ids: number[], value: string, who: string) => CurationResult) => {
    const cmd = group.command(name).description(description);
    if (valueName) cmd.argument(`<${valueName}>`);
    cmd.argument('<face-id...>').option('--who <name>', 'curator name recorded with the decision (default: your user name)');
    withCommonOptions(cmd).action(async (...args: unknown[]) => {
      const o = args[valueName ? 2 : 1] as Flags;
      const value = valueName ? (args[0] as string) : '';
      await run(o, async () => {
        // Parsed inside run(): a bad id is a usage error (exit 2), not an uncaught exception.
        const ids = faceIds(args[valueName ? 1 : 0] as string[]);
        const ctx = openContext(o);
        try {
          const r = fn(ctx.ws, ids, value, o.who ?? userInfo().username);
          report(r);
          return r;
        } finally {
          ctx.ws.close();
        }
      }, report);
    });
  };
  act('accept', 'mark faces accepted', null, (ws, ids, _v, who) => accept(ws, ids, who));
  act('reject', 'mark faces rejected', null, (ws, ids, _v, who) => reject(ws, ids, who));
  act('tag', 'add a tag to faces', 'tag', (ws, ids, v, who) => tag(ws, ids, v, who));
  act('untag', 'remove a tag from faces', 'tag', (ws, ids, v, who) => untag(ws, ids, v, who));
  act('add-to-set', 'add faces to a named set (then `pros export <set>`)', 'set', (ws, ids, v, who) => addToSet(ws, ids, v, who));
  act('remove-from-set', 'remove faces from a named set', 'set', (ws, ids, v, who) => removeFromSet(ws, ids, v, who));
  withCommonOptions(
    group.command('history').description('the decisions recorded for faces, newest first').argument('<face-id...>'),
  ).action(async (ids: string[], o: CommonOptions) => {
    await run(o, async () => {
      const ctx = openContext(o);
      try {
        return decisionsFor(ctx.ws, faceIds(ids));
      } finally {
        ctx.ws.close();
      }
    }, (ds) => ds.map((d) => `${d.at}  face ${d.faceId}  ${d.action}${d.value ? ` ${d.value}` : ''}  by ${d.who}`).join('\n') || '(no decisions)');
  });
}
