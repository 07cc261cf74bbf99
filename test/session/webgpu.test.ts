// The session's control paths on the webgpu backend (fused kernels; no synchronous reads): a run
// paused by stop(), the transaction check on the fused optimiser, save and resume, the notebook
// display. Skipped when Dawn finds no webgpu adapter (Mesa's lavapipe provides one in CI).

import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { NonFiniteError } from "../../sdk/core/errors.js";
import { Session } from "../../sdk/session/index.js";
import { MIME_BUNDLE } from "../../sdk/viz/mime.js";
import { useWebgpuOrSkip } from "../helpers/webgpu.js";
import { fingerprintState, makeSession, tinySetup, toyData } from "./helpers.js";

const gpuError = await useWebgpuOrSkip("session-webgpu");

describe.skipIf(!!gpuError)("Session on webgpu", () => {
  it("pauses on stop(), refuses a 1e30 update whole, saves and resumes bit for bit, displays", async () => {
    const s = await makeSession({ batchSize: 4, maxLength: 16, innerLr: 1e30 });
    const before = await fingerprintState(s);
    await expect(s.innerStep()).rejects.toThrow(NonFiniteError);
    expect(await fingerprintState(s)).toEqual(before);
    s.setLearningRates({ innerLr: 1e-2 });
    const r = await s.run({ steps: 20, onStep: ({ step }) => step === 2 && s.stop() });
    expect(r).toEqual({ steps: 2, aborted: true, reason: "stop" });
    const dir = await mkdtemp(join(tmpdir(), "session-webgpu-"));
    await s.save(dir);
    const { model, tokenizer } = await tinySetup();
    const back = await Session.load(dir, { model, tokenizer, data: toyData });
    expect(await fingerprintState(back)).toEqual(await fingerprintState(s));
    await back.step();
    await s.step();
    expect(await fingerprintState(back)).toEqual(await fingerprintState(s));
    expect(s[MIME_BUNDLE]()["text/plain"]).toContain("backend: webgpu");
    expect(s[MIME_BUNDLE]()["text/plain"]).toContain("steps: 3 inner, 3 outer");
    back.dispose();
    model.dispose();
    s.dispose();
    s.model.dispose();
  });
});
