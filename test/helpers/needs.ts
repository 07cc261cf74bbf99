/**
 * A test's precondition, said out loud: returns `met`; when it is not met, warns (once per call
 * site's `what`) which tests skip, what is missing and the command that makes them run. For
 * `describe.runIf(needs(...))` / `it.runIf(needs(...))`, so that no test skips without a word
 * (issue 20).
 */
const warned = new Set<string>();

export function needs(met: boolean, what: string, missing: string, remedy: string): boolean {
  if (!met && !warned.has(what)) {
    warned.add(what);
    console.warn(`[skipped] ${what}: ${missing}; to run it: ${remedy}`);
  }
  return met;
}
