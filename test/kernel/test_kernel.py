"""Jupyter kernel conformance tests (jupyter_kernel_test) for the AutoLoRA TypeScript kernel.

Run with the kernel registered where Jupyter finds it, e.g.

    node kernels/install.mjs --prefix /tmp/k
    JUPYTER_PATH=/tmp/k/share/jupyter /usr/bin/python3 -m unittest -v test_kernel   # from test/kernel/

AUTOLORA_KERNEL_NAME overrides the kernel name (default autolora-ts).
Debian packages: jupyter-notebook python3-jupyter-kernel-test.
"""

import os
import unittest

import jupyter_kernel_test as jkt


class AutoLoraKernelTests(jkt.KernelTests):
    kernel_name = os.environ.get("AUTOLORA_KERNEL_NAME", "autolora-ts")

    # kernel_info_reply
    language_name = "typescript"
    file_extension = ".ts"

    # stdout / stderr streams
    code_hello_world = 'console.log("hello, world");'
    code_stderr = 'console.error("some error");'

    # completion (tslab uses the TypeScript language service)
    completion_samples = [
        {"text": "Math.ab", "matches": {"abs"}},
        {"text": "const zzzLongName = 1;\nzzzLong", "matches": {"zzzLongName"}},
    ]

    # is_complete
    complete_code_samples = ["1", "let x = 1;", "function f() { return 1; }"]
    incomplete_code_samples = ["function f() {", "let xs = [1,", "if (true) {"]

    # a cell's last expression is an execute_result (kernels/display.cjs)
    code_execute_result = [
        {"code": "6 * 7", "result": "42"},
        {"code": '["a", 1]', "result": "[ 'a', 1 ]"},
    ]

    # a failing cell: status "error" and exactly one `error` message
    code_generate_error = 'throw new Error("boom");'

    # rich output through tslab's display API
    code_display_data = [
        {"code": 'import * as tslab from "tslab";\ntslab.display.html("<b>hi</b>");', "mime": "text/html"},
        {"code": 'import * as tslab from "tslab";\ntslab.display.markdown("**hi**");', "mime": "text/markdown"},
    ]

    # inspect (hover info from the TypeScript language service)
    code_inspect_sample = "Math.max"

    def test_type_error_is_an_error_message(self):
        """A TypeScript type error fails the cell with one `error` message naming the problem."""
        self.flush_channels()
        reply, output_msgs = self.execute_helper('const n: number = "x";')
        self.assertEqual(reply["content"]["status"], "error")
        self.assertEqual(reply["content"]["ename"], "TypeScriptError")
        errors = [m for m in output_msgs if m["msg_type"] == "error"]
        self.assertEqual(len(errors), 1)
        self.assertIn("not assignable to type 'number'", errors[0]["content"]["evalue"])

    def test_top_level_await(self):
        self.flush_channels()
        reply, output_msgs = self.execute_helper(
            'const v = await new Promise<number>((r) => setTimeout(() => r(41), 10));\nconsole.log("v+1 =", v + 1);'
        )
        self.assertEqual(reply["content"]["status"], "ok")
        text = "".join(m["content"].get("text", "") for m in output_msgs if m["msg_type"] == "stream")
        self.assertIn("v+1 = 42", text)

    def test_state_persists_across_cells(self):
        self.flush_channels()
        reply, _ = self.execute_helper("const persisted: string[] = ['a', 'b'];")
        self.assertEqual(reply["content"]["status"], "ok")
        reply, output_msgs = self.execute_helper("console.log(persisted.join('+'));")
        self.assertEqual(reply["content"]["status"], "ok")
        text = "".join(m["content"].get("text", "") for m in output_msgs if m["msg_type"] == "stream")
        self.assertIn("a+b", text)

    def test_comm_info(self):
        self.flush_channels()
        msg_id = self.kc.comm_info()
        reply = self.get_non_kernel_info_reply(timeout=jkt.TIMEOUT)
        jkt.validate_message(reply, "comm_info_reply", msg_id)


if __name__ == "__main__":
    unittest.main()
