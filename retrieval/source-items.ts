// A source's items as the workspace records them: the reader gets the run's crawl settings and opt-outs, and every
// crawled page and rejected entry is written against the source's row. Shared by the local run and the queue's
// coordinator, which enumerate sources the same way and differ only in what they do with each item.
import type { ProsConfig } from '../src/config.ts';
import { readSource, type SourceItem } from './sources/index.ts';
import type { SourceRef } from './sources/types.ts';
import type { Fetcher } from './fetch/index.ts';
import type { CurateStore } from './store.ts';
import type { OptOutMatcher } from './privacy/optout.ts';

export interface SourceItemsDeps {
  store: CurateStore;
  fetcher: Fetcher;
  config: ProsConfig;
  optouts: OptOutMatcher;
  signal?: AbortSignal;
}

export function recordedSourceItems(src: SourceRef, sourceId: number, d: SourceItemsDeps): AsyncIterable<SourceItem> {
  const { store } = d;
  return readSource(src, {
    crawl: d.config.crawl,
    fetcher: d.fetcher,
    signal: d.signal,
    respectNoAI: d.config.fetch.respectNoAI,
    optedOut: (url) => d.optouts.matchesUri(url),
    onPage: (url, o, depth) =>
      store.recordPage(sourceId, url, depth, o.ok
        ? { status: 'ok', httpStatus: o.httpStatus, attempts: o.attempts, bytes: o.bytes.length, contentType: o.contentType }
        : { status: o.status, reason: o.reason, httpStatus: o.httpStatus, attempts: o.attempts }),
    onReject: (e) => store.recordRejected(sourceId, e.value, e.status, e.reason, e.where),
  });
}
