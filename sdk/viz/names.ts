/**
 * Reading transformer block indices and module kinds out of HF module names.
 * @module
 */

/** What {@link parseLayerName} finds in a module name. */
export interface ParsedLayerName {
  /** Transformer block index (`layer.3`, `h.3`, `layers.3`, `block.3`), or null when there is none. */
  block: number | null;
  /** The last name segment (`query`, `value`, `c_attn`, `dense`, …). */
  module: string;
}

const BLOCK_RE = /(?:^|\.)(?:layer|layers|h|block|blocks)\.(\d+)(?:\.|$)/;

/**
 * Split a module name into its transformer block index and module kind.
 *
 * @example
 * ```ts
 * parseLayerName("roberta.encoder.layer.3.attention.self.query"); // { block: 3, module: "query" }
 * parseLayerName("transformer.h.11.attn.c_attn");                  // { block: 11, module: "c_attn" }
 * parseLayerName("classifier.dense");                              // { block: null, module: "dense" }
 * ```
 */
export function parseLayerName(name: string): ParsedLayerName {
  const m = BLOCK_RE.exec(name);
  const parts = name.split(".");
  return { block: m ? Number(m[1]) : null, module: parts[parts.length - 1] || name };
}

/**
 * A short axis label for a module name: `"3 · query"` for block 3's query, else the name itself.
 *
 * @example
 * ```ts
 * shortLayerName("roberta.encoder.layer.3.attention.self.query"); // "3 · query"
 * ```
 */
export function shortLayerName(name: string): string {
  const p = parseLayerName(name);
  return p.block === null ? name : `${p.block} · ${p.module}`;
}

/** Module kinds in the order the AutoLoRA paper's Figure 3 uses (query above value), then A–Z. */
export function compareModuleKinds(a: string, b: string): number {
  const order = ["query", "q", "q_proj", "key", "k", "k_proj", "value", "v", "v_proj"];
  const ia = order.indexOf(a);
  const ib = order.indexOf(b);
  if (ia >= 0 || ib >= 0) return (ia < 0 ? order.length : ia) - (ib < 0 ? order.length : ib);
  return a < b ? -1 : a > b ? 1 : 0;
}
