// `pros serve`: an express app over the workspace. Static pages (HTML, one JS module per page, CSS; no inline
// script) plus a JSON API under /api, one router per area, each a thin layer over query and curation functions.
import express, { type Express } from 'express';
import { createServer as createHttpServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { hostname, networkInterfaces } from 'node:os';
import { fileURLToPath } from 'node:url';
import type { ProsConfig } from '../src/config.ts';
import type { Workspace } from '../src/workspace.ts';
import { log } from '../src/log.ts';
import { errorHandler, hostCheck, HttpError, sameOrigin, securityHeaders } from './security.ts';
import { Thumbs } from './thumbs.ts';
import { retrievalSearch, type SearchProvider } from './search-provider.ts';
import type { ApiDeps } from './api/deps.ts';
import { overviewRouter } from './api/overview.ts';
import { facesRouter } from './api/faces.ts';
import { imagesRouter } from './api/images.ts';
import { searchRouter } from './api/search.ts';
import { curationRouter } from './api/curation.ts';
import { runsRouter } from './api/runs.ts';
import { evalsRouter } from './api/evals.ts';
import { privacyRouter } from './api/privacy.ts';

export const PUBLIC_DIR = fileURLToPath(new URL('./public/', import.meta.url));

export interface ServerOptions {
  /** Largest upload for search-by-image, bytes (default 10 MiB). */
  maxUploadBytes?: number;
  /** Search-by-image uploads handled at once (default 4); one more gets 503 with Retry-After. */
  maxConcurrentUploads?: number;
  /** Search functions; defaults to retrieval/search.ts over this workspace. */
  search?: SearchProvider;
  /** Host header values served besides loopback names on the bound port (e.g. a LAN name when --host is set). */
  extraHosts?: string[];
}

export interface ProsApp extends Express {
  /** Called once the port is known, so the Host allow-list matches it. */
  setPort(port: number): void;
  /** Releases what the app holds open (face models, the ANN index); the workspace stays open. */
  release(): Promise<void>;
}

export function createServer(ws: Workspace, config: ProsConfig, opts: ServerOptions = {}): ProsApp {
  const deps: ApiDeps = {
    ws,
    config,
    thumbs: new Thumbs(ws, config.export.scale),
    search: opts.search ?? retrievalSearch(ws, config),
    maxUploadBytes: opts.maxUploadBytes ?? 10 * 1024 * 1024,
    maxConcurrentUploads: opts.maxConcurrentUploads ?? 4,
  };
  let hosts = new Set<string>();
  const app = express() as unknown as ProsApp;
  app.setPort = (port: number) => {
    const names = ['127.0.0.1', 'localhost', '[::1]', ...(opts.extraHosts ?? [])];
    hosts = new Set(names.map((n) => `${n.toLowerCase()}:${port}`));
  };
  app.release = async () => {
    await deps.search.close?.();
  };
  app.disable('x-powered-by');
  app.set('query parser', 'simple');
  app.set('strict routing', false);
  app.use(securityHeaders());
  app.use(hostCheck(() => hosts));
  app.use(sameOrigin());

  const api = express.Router();
  api.use(express.json({ limit: '256kb', strict: true }));
  for (const router of [overviewRouter, facesRouter, imagesRouter, searchRouter, curationRouter, runsRouter, evalsRouter, privacyRouter]) {
    api.use(router(deps));
  }
  api.use((req, _res, next) => next(new HttpError(404, `no API route ${req.method} ${req.path}`)));
  app.use('/api', api);

  app.use(express.static(PUBLIC_DIR, { index: 'index.html', dotfiles: 'deny', fallthrough: true, redirect: false }));
  app.use((req, _res, next) => next(new HttpError(404, `not found: ${req.path}`)));
  app.use(errorHandler((err) => log.error(`web: ${(err as Error)?.stack ?? String(err)}`)));
  return app;
}

/**
 * Node's defaults let one request hold a socket for 300 s (a body dripped a byte at a time): a request has this long
 * from its first byte to its last, headers a shorter while, and an idle keep-alive socket closes after a few seconds.
 * Node checks the first two every `checkMs`.
 */
export const SERVER_TIMEOUTS = { requestMs: 60_000, headersMs: 15_000, keepAliveMs: 5_000, checkMs: 5_000 } as const;

export interface ServeOptions extends ServerOptions {
  ws: Workspace;
  config: ProsConfig;
  host?: string;
  /** 0 picks a free port. */
  port?: number;
}

export interface Serving {
  server: Server;
  url: string;
  port: number;
  close(): Promise<void>;
}

/** Starts the server; resolves once it listens. Binds 127.0.0.1 unless told otherwise. */
export async function serve(opts: ServeOptions): Promise<Serving> {
  const host = opts.host ?? '127.0.0.1';
  const extra = [...(opts.extraHosts ?? [])];
  if (host === '0.0.0.0' || host === '::') {
    // Bound to every interface: the machine's own names and addresses are its Host values; others are still refused.
    extra.push(hostname());
    for (const list of Object.values(networkInterfaces())) {
      for (const a of list ?? []) extra.push(a.family === 'IPv6' ? `[${a.address}]` : a.address);
    }
  } else if (!['127.0.0.1', 'localhost', '::1'].includes(host)) {
    extra.push(host.includes(':') ? `[${host}]` : host);
  }
  const app = createServer(opts.ws, opts.config, { ...opts, extraHosts: extra });
  const server = createHttpServer(
    {
      requestTimeout: SERVER_TIMEOUTS.requestMs,
      headersTimeout: SERVER_TIMEOUTS.headersMs,
      keepAliveTimeout: SERVER_TIMEOUTS.keepAliveMs,
      connectionsCheckingInterval: SERVER_TIMEOUTS.checkMs,
    },
    app,
  );
  await new Promise<void>((resolveListen, rejectListen) => {
    server.once('error', rejectListen);
    server.listen(opts.port ?? 0, host, () => resolveListen());
  });
  const port = (server.address() as AddressInfo).port;
  app.setPort(port);
  const shown = host.includes(':') ? `[${host}]` : host;
  return {
    server,
    port,
    url: `http://${shown === '0.0.0.0' ? '127.0.0.1' : shown}:${port}`,
    close: () =>
      new Promise<void>((done) => {
        server.closeAllConnections();
        server.close(() => void app.release().then(done, done));
      }),
  };
}
