// The project's one input error. Libraries throw it (or a subclass) for anything the user has to fix: a bad flag
// value, a missing or malformed file, an unknown face id. Each boundary maps it once: the CLI to a one-line message
// and exit code 2 (src/command.ts), the web API to a 422 with the message (web/security.ts).

/** Bad input: the message is for the user, printed as one line with no stack. */
export class InputError extends Error {
  override name = 'InputError';
}

/** A bad configuration value or file: an input error (exit code 2). */
export class ConfigError extends InputError {
  override name = 'ConfigError';
}
