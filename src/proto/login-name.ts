// The one canonical form of a login name, as typed by a client (SMTP AUTH, POP3 USER and AUTH,
// the submission API's Basic credentials, the WebAdmin login form): every place that looks a name
// up, throttles it, locks its mailbox or logs it in uses this, so two spellings of one account can
// never count, lock or log in as two. Untrusted input. No I/O.
//
// A name with whitespace or a control character anywhere (a padding space or tab included) is
// refused rather than trimmed: no account or administrator name holds one (the directory's
// addresses are dot-atoms), so trimming could only make one name out of two. What remains is
// lower-cased, local part and domain alike, as the directory stores addresses.

/** A login name in canonical form: made only by loginName(). */
export type LoginName = string & { readonly __loginName: unique symbol };

/** Longest name accepted (RFC 5321 §4.5.3.1: 64 + 1 + 255). */
export const MAX_LOGIN_NAME = 320;

// \s covers Unicode spaces (NBSP, ideographic space); \p{C} control, format and unassigned.
const FORBIDDEN = /[\s\p{C}]/u;

/** The canonical name, or null when no account or administrator can have this name. */
export function loginName(typed: string): LoginName | null {
  if (typed.length === 0 || typed.length > MAX_LOGIN_NAME || FORBIDDEN.test(typed)) return null;
  return typed.toLowerCase() as LoginName;
}
