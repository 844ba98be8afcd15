/**
 * Error bodies stay small whatever the request: a body with a thousand bad fields gets the first few dozen
 * listed and a count of the rest, and text that echoes the client (a path, a name, a value) is cut to a few
 * hundred bytes. Both renderers (problem+json in problem.ts, the /v2 `{ error }`) go through here, so every
 * error body is under maxErrorBodyBytes, however the error was built.
 */

/** Every error body (problem+json or /v2 `{ error }`) is smaller than this many bytes. */
export const maxErrorBodyBytes = 16 * 1024;

/** Budgets in bytes of serialized JSON (a lone surrogate is 6 bytes, \u escaped): they add up to < 16 KiB. */
export const errorBodyBudget = {
  /** Errors listed in a problem's `errors`; the rest are counted in `errorsOmitted`. */
  listed: 20,
  path: 200,
  message: 300,
  detail: 2000,
  instance: 256,
  /** The message of a /v2 `{ error }`. */
  v2Message: 8000,
} as const;

/** Bytes of a string once serialized in a JSON body, quotes excluded. */
const jsonBytes = (text: string) => Buffer.byteLength(JSON.stringify(text)) - 2;

/**
 * text, or its beginning with "… (N more characters)" when its JSON form is over maxBytes. Never cuts a
 * surrogate pair in two.
 */
export function clipText(text: string, maxBytes: number): string {
  // Fast path: a string of at most maxBytes / 6 units fits even if every unit is escaped.
  if (text.length * 6 <= maxBytes || jsonBytes(text) <= maxBytes) return text;
  const marker = (rest: number) => `… (${rest} more characters)`;
  const room = maxBytes - jsonBytes(marker(text.length));
  // Shrink the prefix until it fits: each step cuts in proportion to the overshoot, so a few steps suffice.
  let end = Math.min(text.length, Math.max(0, room));
  for (;;) {
    const code = text.charCodeAt(end - 1);
    if (end > 0 && code >= 0xd800 && code <= 0xdbff) end--;
    const bytes = jsonBytes(text.slice(0, end));
    if (bytes <= room || end === 0) break;
    end = Math.max(0, Math.floor((end * room) / bytes) - 1);
  }
  return text.slice(0, end) + marker(text.length - end);
}

export interface ListedIssue {
  readonly path: string;
  readonly message: string;
}

/** The first `listed` issues, each clipped, and how many were left out. */
export function boundedIssues(issues: readonly ListedIssue[]): {
  errors: ListedIssue[];
  omitted: number;
} {
  const { listed, path, message } = errorBodyBudget;
  const errors = issues
    .slice(0, listed)
    .map((issue) => ({ path: clipText(issue.path, path), message: clipText(issue.message, message) }));
  return { errors, omitted: issues.length - errors.length };
}
