// Checks for values people type or requests carry, shared by the CLI and the web server: face ids, labels (tags,
// curator names), names that become folders (sets), and echoing untrusted text back in an error message.

/** A face id written as decimal text: a positive integer that a JS number holds exactly, else undefined. */
export function parseFaceId(text: string): number | undefined {
  if (!/^[1-9]\d{0,15}$/.test(text)) return undefined;
  const n = Number(text);
  // Above 2^53 the number would be a neighbour of the id asked for, not the id.
  return Number.isSafeInteger(n) ? n : undefined;
}

/**
 * C0 and C1 control characters, and the bidirectional overrides, embeddings and isolates (and marks), which make
 * text display in an order other than its own (a label that reads one way in a terminal and another in a page).
 */
const UNSAFE_TEXT = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/;

export function hasUnsafeText(text: string): boolean {
  return UNSAFE_TEXT.test(text);
}

/** Names Windows reserves for devices, with or without an extension ("con", "NUL.txt", "com1"). */
const DEVICE_NAME = /^(con|prn|aux|nul|com[0-9¹²³]|lpt[0-9¹²³]|conin\$|conout\$)(\..*)?$/i;

/**
 * A name that is safe as one folder name on Linux, macOS and Windows: 1–`max` of A-Z a-z 0-9 _ . -, starting with
 * a letter or digit, no "..", no trailing dot, and not a Windows device name.
 */
export function isPortableName(name: unknown, max = 64): name is string {
  return (
    typeof name === 'string' &&
    name.length <= max &&
    /^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(name) &&
    !name.includes('..') &&
    !name.endsWith('.') &&
    !DEVICE_NAME.test(name)
  );
}

/** Untrusted text for an error message: at most `max` characters, controls shown as escapes, a long rest elided. */
export function clip(text: string, max = 120): string {
  const shown = text.length > max ? `${text.slice(0, max)}… (${text.length} characters)` : text;
  return shown.replace(/[\u0000-\u001f\u007f-\u009f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}
