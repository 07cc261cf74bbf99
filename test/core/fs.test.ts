import { existsSync, mkdtempSync, readFileSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { STALE_TMP_MS, writeFileAtomic } from "../../sdk/core/fs.js";

describe("writeFileAtomic", () => {
  it("writes the file, and removes the stale temporaries of earlier killed writes of that file only", async () => {
    const dir = mkdtempSync(join(tmpdir(), "autolora-fs-"));
    const old = (Date.now() - 2 * STALE_TMP_MS) / 1000;
    const stale = join(dir, ".results.json.0123456789ab.tmp");
    const young = join(dir, ".results.json.ba9876543210.tmp");
    const other = join(dir, ".adapter_config.json.0123456789ab.tmp");
    const notOurs = join(dir, ".results.json.backup.tmp");
    for (const f of [stale, young, other, notOurs]) writeFileSync(f, "partial");
    for (const f of [stale, other, notOurs]) utimesSync(f, old, old);
    await writeFileAtomic(join(dir, "results.json"), '{"ok":true}');
    expect(readFileSync(join(dir, "results.json"), "utf8")).toBe('{"ok":true}');
    expect(existsSync(stale)).toBe(false); // a killed write of results.json, a minute or more ago
    expect(existsSync(young)).toBe(true); // may be another process's write in progress
    expect(existsSync(other)).toBe(true); // another file's temporary: cleaned when that file is written
    expect(existsSync(notOurs)).toBe(true); // not a name writeFileAtomic makes
  });
});
