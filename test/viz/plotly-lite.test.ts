/**
 * The notebook's plotly.js (sdk/viz/plotly-lite.generated.ts) is what scripts/notebooks/plotly-lite.mjs
 * makes from the installed plotly.js-dist-min (so it cannot go stale after an upgrade), is small
 * enough to keep a tutorial under 1 MB, and unpacks to a bundle with the trace types it claims.
 * (That it draws in a browser is checked by test/viz/browser.test.ts and the notebook tests.)
 */
import { createHash } from "node:crypto";
import { gunzipSync } from "node:zlib";
import { describe, expect, it } from "vitest";
// @ts-expect-error: a plain .mjs script without types
import { buildPlotlyLite, LITE_TRACES } from "../../scripts/notebooks/plotly-lite.mjs";
import { PLOTLY_LITE } from "../../sdk/viz/plotly-lite.generated.js";

describe("the notebook plotly.js bundle", () => {
  const js = gunzipSync(Buffer.from(PLOTLY_LITE.gzipBase64, "base64")).toString("utf8");

  it("unpacks to the JavaScript its hash names, under 0.6 MB as base64", () => {
    expect(createHash("sha256").update(js).digest("hex")).toBe(PLOTLY_LITE.sha256);
    expect(Buffer.byteLength(js)).toBe(PLOTLY_LITE.bytes);
    expect(PLOTLY_LITE.gzipBase64.length).toBeLessThan(600_000);
    expect(js.startsWith(`/* plotly.js v${PLOTLY_LITE.version} (MIT License`)).toBe(true);
    expect(js).toContain("window.Plotly=");
    // the kept trace modules are in, a dropped one (maplibre maps) is not
    for (const t of ["bar", "box", "heatmap", "histogram", "contour", "pie"]) expect(js).toContain(`moduleType:"trace",name:"${t}"`);
    expect(js).not.toContain('name:"scattermap"');
    expect(js).not.toContain("MapLibre");
  });

  it("is what scripts/notebooks/plotly-lite.mjs makes from the installed plotly.js-dist-min", async () => {
    const lite = (await buildPlotlyLite()) as { js: string; version: string; traces: string[] };
    expect(lite.version).toBe(PLOTLY_LITE.version);
    expect(lite.traces).toEqual(PLOTLY_LITE.traces);
    expect(lite.traces).toEqual(["scatter", ...LITE_TRACES]);
    const sha = createHash("sha256").update(lite.js).digest("hex");
    expect(sha, "stale: run node scripts/notebooks/plotly-lite.mjs").toBe(PLOTLY_LITE.sha256);
  }, 60_000);
});
