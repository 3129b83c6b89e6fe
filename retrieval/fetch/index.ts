export { Fetcher, optsOutOfAI, type FetcherOptions } from './fetcher.ts';
export { readLocalFile } from './local.ts';
export { FETCH_REASONS, SKIP_REASONS, type FetchOutcome, type FetchReason } from './outcome.ts';
