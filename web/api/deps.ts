// What every API router is handed: the open workspace, the merged config, the thumbnail cache and the search
// functions. Routers are thin: they parse the request, call a query or action, and shape the JSON reply.
import type { ProsConfig } from '../../src/config.ts';
import type { Workspace } from '../../src/workspace.ts';
import type { Thumbs } from '../thumbs.ts';
import type { SearchProvider } from '../search-provider.ts';

export interface ApiDeps {
  ws: Workspace;
  config: ProsConfig;
  thumbs: Thumbs;
  search: SearchProvider;
  /** Largest accepted upload, bytes. */
  maxUploadBytes: number;
  /** Uploads handled at once; one more is answered 503 (each holds up to maxUploadBytes in memory). */
  maxConcurrentUploads: number;
}
