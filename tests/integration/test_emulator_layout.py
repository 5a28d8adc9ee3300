"""The emulator's source as an independent oracle: its files form no include cycle, it
uses the neutral shared codecs but none of the client's logic, its private headers
leak nothing a single file could keep static, and it refers to no document outside
the repository. Reads src/emulator; starts nothing."""
import os
import re
import unittest

SRC = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "src")
EMU = os.path.join(SRC, "emulator")

# What the client side owns: the long connection's client state machine, its handshake
# request and verdicts, its ack and ping builders, its reassembly. Sharing any of these
# would let one bug pass on both sides of every test.
CLIENT_ONLY = ("ws_conn_", "ws_handshake_check", "ws_handshake_request", "ws_handshake_key(",
               "frame_build_ack", "frame_build_ping", "reassembly_")
CLIENT_LAYERS = ("ingress", "event", "lua", "openapi", "app")


def sources():
    out = {}
    for name in sorted(os.listdir(EMU)):
        if name.endswith((".c", ".h")):
            with open(os.path.join(EMU, name), encoding="utf-8") as f:
                out[name] = f.read()
    return out


def strip_comments(text):
    return re.sub(r"/\*.*?\*/", "", text, flags=re.S)


class Layout(unittest.TestCase):
    def test_no_include_cycle_between_the_emulators_files(self):
        # module = file name without extension; an edge per #include "emulator/x.h"
        edges = {}
        for name, text in sources().items():
            mod = name.rsplit(".", 1)[0]
            for dep in re.findall(r'^#include "emulator/(\w+)\.h"', text, re.M):
                if dep != mod:
                    edges.setdefault(mod, set()).add(dep)
        self.assertIn("emu_answer", edges.get("emu_openapi", set()))
        state = {}

        def visit(mod, path):
            if state.get(mod) == "done":
                return
            self.assertNotEqual(state.get(mod), "open",
                                "include cycle: " + " -> ".join(path + [mod]))
            state[mod] = "open"
            for dep in sorted(edges.get(mod, ())):
                visit(dep, path + [mod])
            state[mod] = "done"

        for mod in sorted(edges):
            visit(mod, [])

    def test_shares_neutral_codecs_but_no_client_logic(self):
        text = {n: strip_comments(t) for n, t in sources().items()}
        everything = "".join(text.values())
        for used in ("ws_handshake_accept(", "frame_decode(", "frame_header(",
                     "util_list_has_token(", "http_server_new("):
            self.assertIn(used, everything)
        for name, t in text.items():
            for banned in CLIENT_ONLY:
                self.assertNotIn(banned, t, "%s uses the client's %s" % (name, banned))
            for layer in CLIENT_LAYERS:
                self.assertNotRegex(t, r'#include "%s/' % layer,
                                    "%s includes the client's %s/" % (name, layer))

    def test_shared_header_holds_state_not_functions(self):
        emu_h = strip_comments(sources()["emu.h"])
        self.assertIn("struct emu {", emu_h)
        prototypes = re.findall(r"^[a-z][\w \*]*\b(emu_\w+)\s*\(", emu_h, re.M)
        self.assertEqual(prototypes, [])

    def test_every_exported_function_is_used_by_another_file(self):
        text = sources()
        with open(os.path.join(SRC, "main.c"), encoding="utf-8") as f:
            main = f.read()
        for name, t in text.items():
            if not name.endswith(".c"):
                continue
            for fn in re.findall(r"^(?!static)[a-z][\w \*]*?\b(emu\w*)\s*\([^;{]*\)\s*\{", t, re.M):
                others = [u for n, u in text.items()
                          if n.endswith(".c") and n != name] + [main]
                self.assertTrue(any(re.search(r"\b%s\b" % fn, u) for u in others),
                                "%s: %s is used nowhere else: make it static" % (name, fn))

    def test_names_no_document_outside_the_repository(self):
        for name, t in sources().items():
            for ref in ("PROTOCOL.md", "DESIGN.md", "../shared"):
                self.assertNotIn(ref, t, name)
        with open(os.path.join(EMU, "README.md"), encoding="utf-8") as f:
            readme = f.read()
        for ref in ("PROTOCOL.md", "DESIGN.md", "../shared"):
            self.assertFalse(ref in readme, "README.md names %s" % ref)


if __name__ == "__main__":
    unittest.main(verbosity=2)
