"""Time the AutoLoRA kernel: start → ready, the first cell, and the first imports.

    JUPYTER_PATH=<prefix>/share/jupyter /usr/bin/python3 test/kernel/measure_startup.py \
        [--kernel autolora-ts] [--cwd DIR] [--import-autolora]

Prints one JSON object (seconds). `start_to_first_import_s` = kernel start + ready + the first
`import * as tf from "@tensorflow/tfjs"` cell, the number the 5 s goal is about.
"""

import argparse
import json
import time

from jupyter_client.manager import KernelManager


def run(kc, code, timeout=120):
    t = time.perf_counter()
    reply = kc.execute_interactive(code, timeout=timeout, output_hook=lambda m: None)
    dt = time.perf_counter() - t
    if reply["content"]["status"] != "ok":
        raise RuntimeError(f"cell failed: {code!r}: {reply['content']}")
    return dt


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--kernel", default="autolora-ts")
    ap.add_argument("--cwd", default=None)
    ap.add_argument("--import-autolora", action="store_true", help="also time `import * as autolora from \"autolora\"`")
    args = ap.parse_args()

    t0 = time.perf_counter()
    km = KernelManager(kernel_name=args.kernel)
    km.start_kernel(cwd=args.cwd) if args.cwd else km.start_kernel()
    kc = km.client()
    kc.start_channels()
    try:
        kc.wait_for_ready(timeout=60)
        ready = time.perf_counter() - t0
        first_tf = run(kc, 'import * as tf from "@tensorflow/tfjs";\nconsole.log(tf.version.tfjs);')
        total = time.perf_counter() - t0
        simple = run(kc, "const one: number = 1 + 0;")
        out = {
            "kernel": args.kernel,
            "start_to_ready_s": round(ready, 3),
            "first_cell_import_tfjs_s": round(first_tf, 3),
            "start_to_first_import_s": round(total, 3),
            "next_simple_cell_s": round(simple, 3),
        }
        if args.import_autolora:
            outputs = []
            t = time.perf_counter()
            reply = kc.execute_interactive(
                'import * as autolora from "autolora";\nconsole.log("autolora exports:", Object.keys(autolora).length);',
                timeout=120,
                output_hook=outputs.append,
            )
            out["first_import_autolora_s"] = round(time.perf_counter() - t, 3)
            out["import_autolora_status"] = reply["content"]["status"]
            out["import_autolora_output"] = "".join(
                m["content"].get("text", "") + m["content"].get("evalue", "") for m in outputs if m["msg_type"] in ("stream", "error")
            )
        print(json.dumps(out))
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)


if __name__ == "__main__":
    main()
