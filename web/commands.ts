// `pros serve`: the web UI over the workspace, on 127.0.0.1 unless --host says otherwise.
import { Command } from 'commander';
import { intArg, openContext, run, withCommonOptions, type CommonOptions } from '../src/command.ts';
import { InputError } from '../src/errors.ts';
import { log } from '../src/log.ts';
import { serve } from './server.ts';

interface ServeFlags extends CommonOptions {
  host: string;
  port: number;
  maxUploadMb: number;
}

export function register(program: Command): void {
  withCommonOptions(
    program
      .command('serve')
      .description('browse, search and curate the workspace in a web UI (binds 127.0.0.1 by default)')
      .option('--host <addr>', 'address to bind; anything but loopback exposes the workspace to the network', '127.0.0.1')
      .option('--port <n>', 'port (0: any free port)', intArg(0), 8080)
      .option('--max-upload-mb <n>', 'largest image accepted by search-by-upload, MiB', intArg(1), 10),
  ).action((flags: ServeFlags) =>
    run(flags, async () => {
      if (flags.port > 65535) throw new InputError(`port must be at most 65535, got ${flags.port}`);
      const { ws, config } = openContext(flags);
      const s = await serve({ ws, config, host: flags.host, port: flags.port, maxUploadBytes: flags.maxUploadMb << 20 });
      if (!['127.0.0.1', 'localhost', '::1'].includes(flags.host)) {
        log.warn(`serving on ${flags.host}: anyone who can reach it can read and curate this workspace`);
      }
      log.info(`pros serve: ${s.url}  (workspace ${ws.root}; Ctrl-C to stop)`);
      // With --json, one line when listening (so a script can find the port) and the summary when stopped.
      if (flags.json) process.stdout.write(JSON.stringify({ url: s.url, workspace: ws.root }) + '\n');
      const signal = await new Promise<NodeJS.Signals>((done) => {
        const stop = (sig: NodeJS.Signals) => {
          log.info('stopping');
          void s.close().then(() => {
            ws.close();
            done(sig);
          });
        };
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
      });
      return { url: s.url, workspace: ws.root, stoppedBy: signal };
    }),
  );
}
