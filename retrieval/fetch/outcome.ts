// The result of fetching one URL (or reading one local file): bytes, or a recorded status with a stable reason.

/** Every reason a fetch can end without bytes, with a one-line description for the docs and the UI.
 * `http_<code>` (e.g. `http_404`, `http_503`) covers every other non-2xx status. */
export const FETCH_REASONS = {
  http_code: 'the server answered with this non-2xx status (reason is http_<code>, e.g. http_404, http_503)',
  timeout: 'the whole request (connect to last byte) took longer than fetch.totalTimeoutMs',
  connect_timeout: 'no TCP connection within fetch.connectTimeoutMs',
  reset: 'the connection was reset or closed before the response ended (ECONNRESET, EPIPE, socket hang up)',
  dns: 'the host name does not resolve',
  private_address: 'the host is or resolves to a loopback, private, link-local, multicast, reserved or unspecified address (skipped; fetch.allowPrivate / --allow-private lets it through)',
  refused: 'the connection was refused (nothing listening)',
  unreachable: 'no route to the host or network',
  too_large: 'the body is larger than fetch.maxBytes (by Content-Length or while streaming)',
  redirect_loop: 'a redirect led back to a URL already visited',
  too_many_redirects: 'more than fetch.maxRedirects redirects',
  bad_redirect: 'a redirect without a usable Location header',
  robots: 'robots.txt disallows this URL for our user agent (skipped)',
  robots_unavailable: 'robots.txt answered 5xx or could not be fetched: the host is treated as disallowing all (skipped)',
  noai: 'the response carries X-Robots-Tag noai or noimageai (skipped)',
  bad_url: 'not a parsable absolute URL',
  unsupported_scheme: 'a scheme other than http or https',
  aborted: 'the caller aborted the fetch',
  tls: 'a TLS/certificate error',
  network: 'another network error (detail holds the code)',
  not_found: 'local file: does not exist',
  not_a_file: 'local file: not a regular file',
  unreadable: 'local file: cannot be read (permissions or I/O error)',
} as const;

export type FetchReason = Exclude<keyof typeof FETCH_REASONS, 'http_code'> | `http_${number}`;

/** Reasons recorded as `skipped` (an opt-out, not a failure). */
export const SKIP_REASONS: ReadonlySet<string> = new Set(['robots', 'robots_unavailable', 'noai', 'private_address']);

export type FetchOutcome =
  | { ok: true; bytes: Buffer; contentType?: string; httpStatus: number; finalUrl: string; attempts: number }
  | {
      ok: false;
      status: 'failed' | 'skipped';
      reason: FetchReason;
      httpStatus?: number;
      attempts: number;
      /** Free text for logs: an error code, the Location of a bad redirect, the X-Robots-Tag value… */
      detail?: string;
    };

export function failed(reason: FetchReason, attempts: number, extra: { httpStatus?: number; detail?: string } = {}): FetchOutcome {
  const out: FetchOutcome = { ok: false, status: SKIP_REASONS.has(reason) ? 'skipped' : 'failed', reason, attempts };
  if (extra.httpStatus !== undefined) out.httpStatus = extra.httpStatus;
  if (extra.detail !== undefined) out.detail = extra.detail;
  return out;
}
