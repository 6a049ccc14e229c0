/** A check's verdict: passed, or why not (the HTTP status and a body excerpt, the exit code and output tail). */
export type VerifyResult = { ok: true } | { ok: false; reason: string }
