// tfjs-backend-wasm's Emscripten glue installs process-wide uncaughtException/unhandledRejection
// handlers that turn any later uncaught error of the user's script into a line of minified glue
// and exit status 7. useBackend("wasm") removes them: a script's own error keeps Node's report.
import { spawnSync } from "node:child_process";
import { resolve } from "node:path";
import { describe, expect, it } from "vitest";

const dist = resolve("dist/index.js");

function runScript(body: string) {
  const src = `import { useBackend } from ${JSON.stringify(dist)};\nawait useBackend("wasm");\n${body}`;
  return spawnSync(process.execPath, ["--input-type=module", "-e", src], { encoding: "utf8", timeout: 60_000 });
}

describe("useBackend('wasm') leaves the process's error handling alone", () => {
  it("an uncaught error after loading wasm exits 1 with the script's own message, not Emscripten's exit 7", () => {
    const r = runScript(`throw new Error("my own mistake");`);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain("Error: my own mistake");
    expect(r.stderr).not.toMatch(/ExitStatus|Program terminated/);
  });
  it("an unhandled rejection after loading wasm is Node's (exit 1, the rejection's message)", () => {
    const r = runScript(`Promise.reject(new Error("rejected later"));`);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain("rejected later");
  });
  it("no handlers are left behind in the process", () => {
    const r = runScript(`console.log(process.listeners("uncaughtException").length, process.listeners("unhandledRejection").length);`);
    expect(r.status).toBe(0);
    expect(r.stdout.trim()).toBe("0 0");
  });
});
