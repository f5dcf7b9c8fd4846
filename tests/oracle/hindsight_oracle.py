"""The in-process oracle: every sys.settrace step as a docs/spec/values.md state, one JSON line each.

Installed by sitecustomize.py (in this folder, put on PYTHONPATH) when
HINDSIGHT_ORACLE_OUT names the output file, so the main script runs exactly as
under `python3 script.py`: no extra frame below its <module>, its stdout and
stderr untouched. HINDSIGHT_ORACLE_GRANULARITY=opcode adds the opcode steps of
`--granularity opcode`: every recorded frame gets `f_trace_opcodes = True`,
and an opcode event is a step when its instruction binds a name or mutates an
object in place (`is_step_instruction`), with `"instruction": {"name",
"offset"}`. HINDSIGHT_ORACLE_ALL=1 records every frame; otherwise only
files under the main script's directory, minus the standard library and
site-packages/dist-packages (docs/spec/cli.md). Frames outside produce no
steps but appear in `stack`. HINDSIGHT_ORACLE_NODES=1 adds to every step
the AST node the `executing` library (from PyPI, on PYTHONPATH) finds for
the frame's instruction, `"node": {"type", "text"}` or null, for
tests/nodes_test.rs.
"""

import ast
import dis
import json
import opcode
import os
import sys
import sysconfig
import threading

import hindsight_render as render

_HAS_QUALNAME = sys.version_info >= (3, 11)
_CO_OPTIMIZED = 0x1
_MAX_STACK = 100_000  # bound on the f_back walk; far above any recursion limit
_MAX_NODE_TEXT = 200  # characters of a node's text kept, as hindsight's `node`

# BINARY_OP's in-place opargs (3.11+): `a += b` and the like.
_INPLACE_ARGS = frozenset(
    i for i, (name, _) in enumerate(getattr(opcode, "_nb_ops", [])) if name.startswith("NB_INPLACE_")
)


def is_step_instruction(name, arg):
    """Whether an instruction binds a name or mutates an object in place: the
    opcode steps (the rule of scripts/gen-opcodes.py, hindsight's tables)."""
    if name == "BINARY_OP":
        return arg in _INPLACE_ARGS
    return name.startswith(("STORE_", "DELETE_", "INPLACE_")) or name in ("LIST_APPEND", "SET_ADD", "MAP_ADD")


def _real(path):
    try:
        return os.path.realpath(path)
    except (OSError, ValueError):
        return path


def _stdlib_dirs():
    dirs = set()
    for key in ("stdlib", "platstdlib"):
        try:
            dirs.add(_real(sysconfig.get_paths()[key]))
        except (KeyError, OSError):
            pass
    return sorted(dirs)


def _module_hidden_locals(frame):
    """The bound hidden locals of a module frame (3.12+), in slot order.

    frame.f_locals would show them, but not safely here: on 3.12.0-1 reading
    it writes the globals back into those slots when the trace function
    returns (the comprehension breaks), and on 3.13.0 it can crash the
    interpreter. So they are read from the frame's own slots: the
    interpreter frame behind the frame object (`f_frame`, after the object
    header and `f_back`), its `localsplus` after eight pointers, an int, a
    short and a char (`_PyInterpreterFrame` of 3.12 and 3.13). In a module's
    code every fast slot is a comprehension's hidden local.
    """
    if sys.version_info < (3, 12):
        return {}
    import ctypes
    import types

    code = frame.f_code
    names = []
    while True:
        try:
            names.append(code._varname_from_oparg(len(names)))
        except (IndexError, ValueError):
            break
    if not names:
        return {}
    word = ctypes.sizeof(ctypes.c_void_p)
    iframe = ctypes.c_void_p.from_address(id(frame) + 3 * word).value
    localsplus = iframe + 8 * word + 8
    out = {}
    for i, name in enumerate(names):
        ptr = ctypes.c_void_p.from_address(localsplus + i * word).value
        if not ptr:
            continue
        value = ctypes.cast(ptr, ctypes.py_object).value
        if name in code.co_cellvars and type(value) is types.CellType:
            try:
                value = value.cell_contents
            except ValueError:
                continue
        out[name] = value
    return out


def _class_locals_312(frame):
    """A class body's namespace and its bound hidden locals (3.12, PEP 709),
    read without frame.f_locals.

    On 3.12 reading f_locals of a class body that runs an inlined
    comprehension makes the trace function's return write the namespace
    back into the comprehension's slots (`PyFrame_LocalsToFast`): the opcode
    steps inside the comprehension would see the oracle's own writes. The
    namespace is the interpreter frame's `f_locals` (its sixth pointer);
    the hidden locals are read from the slots as for a module.
    """
    import ctypes

    word = ctypes.sizeof(ctypes.c_void_p)
    iframe = ctypes.c_void_p.from_address(id(frame) + 3 * word).value
    ptr = ctypes.c_void_p.from_address(iframe + 5 * word).value
    out = dict(ctypes.cast(ptr, ctypes.py_object).value) if ptr else {}
    out.update(_module_hidden_locals(frame))
    return out


class Oracle:
    """Writes one state per step; holds the file filter and position caches."""

    def __init__(self, out_path, record_all, opcodes=False, nodes=None):
        self.out = open(out_path, "w", encoding="ascii")
        self.nodes = nodes
        self.node_cache = {}
        self.opcodes = opcodes
        self.instructions = {}
        self.lock = threading.Lock()
        self.step = 0
        self.record_all = record_all
        self.root = None
        self.excluded = _stdlib_dirs()
        self.decisions = {}
        self.positions = {}
        argv0 = sys.argv[0] if getattr(sys, "argv", None) else ""
        if argv0 and os.path.isfile(argv0):
            self.root = os.path.dirname(_real(argv0))

    # -- which files are recorded ------------------------------------------
    def recorded(self, frame):
        filename = frame.f_code.co_filename
        decision = self.decisions.get(filename)
        if decision is None:
            if self.root is None and frame.f_globals.get("__name__") == "__main__":
                self.root = os.path.dirname(_real(filename))
            if self.root is None and not self.record_all:
                return False  # not cached: the main script is not known yet
            decision = self.record_all or self._in_scope(filename)
            self.decisions[filename] = decision
        return decision

    def _in_scope(self, filename):
        if filename.startswith("<"):
            return False
        path = _real(filename)
        if not path.startswith(self.root + os.sep):
            return False
        if any(path.startswith(d + os.sep) for d in self.excluded):
            return False
        parts = path.split(os.sep)
        return "site-packages" not in parts and "dist-packages" not in parts

    # -- the state at a step -------------------------------------------------
    def position(self, frame):
        code = frame.f_code
        table = self.positions.get(code)
        if table is None:
            if not hasattr(code, "co_positions"):
                return None
            table = list(code.co_positions())
            self.positions[code] = table
        index = frame.f_lasti // 2
        if index < 0 or index >= len(table):
            return None
        line, end_line, col, end_col = table[index]
        if line is None or end_line is None or col is None or end_col is None:
            return None
        return {"line": line, "end_line": end_line, "col": col, "end_col": end_col}

    @staticmethod
    def function(code):
        return code.co_qualname if _HAS_QUALNAME else code.co_name

    def stack(self, frame):
        frames = []
        f = frame
        while f is not None and len(frames) < _MAX_STACK:
            frames.append({"function": self.function(f.f_code), "file": f.f_code.co_filename, "line": f.f_lineno})
            f = f.f_back
        frames.reverse()
        return frames

    def state(self, frame, event, arg):
        code = frame.f_code
        if not code.co_flags & _CO_OPTIMIZED and code.co_name == "<module>":
            # A module frame: its names are its globals, but while a
            # comprehension inlined into it runs (3.12+, PEP 709) its bound
            # hidden locals are the frame's locals.
            local_values = render.render_mapping(_module_hidden_locals(frame), skip_dunder=False)
        elif self.opcodes and sys.version_info[:2] == (3, 12) and not code.co_flags & _CO_OPTIMIZED and code.co_varnames:
            # A class body with an inlined comprehension, at opcode granularity.
            local_values = render.render_mapping(_class_locals_312(frame), skip_dunder=False)
        else:
            f_locals = frame.f_locals
            if f_locals is frame.f_globals:
                local_values = {}
            else:
                if type(f_locals) is not dict:
                    # 3.13+ (PEP 667): a function frame's f_locals is a
                    # write-through FrameLocalsProxy; its items are the locals.
                    f_locals = dict(f_locals)
                local_values = render.render_mapping(f_locals, skip_dunder=False)
        state = {
            "step": 0,
            "event": event,
            "thread": threading.get_native_id(),
            "file": code.co_filename,
            "function": self.function(code),
            "line": frame.f_lineno,
            "position": self.position(frame),
            "stack": self.stack(frame),
            "locals": local_values,
            "globals": render.render_mapping(frame.f_globals, skip_dunder=True),
        }
        if event == "return":
            state["return"] = render.render_value(arg)
        elif event == "exception":
            state["exception"] = render.render_exception(arg[0], arg[1])
        return state

    def node(self, frame):
        """executing's node for the frame's current instruction (f_lasti),
        as hindsight's `node`: its ast class name and source text (cut to
        _MAX_NODE_TEXT characters, then `"truncated": true`), or None.
        Cached by code and instruction: executing's answer depends on
        nothing else, and finding it is slow."""
        key = (frame.f_code, frame.f_lasti)
        if key not in self.node_cache:
            self.node_cache[key] = self._find_node(frame)
        return self.node_cache[key]

    def _find_node(self, frame):
        try:
            found = self.nodes.Source.executing(frame)
            node = found.node
            if node is None:
                return None
            text = ast.get_source_segment(found.source.text, node)
        except Exception:
            return None
        if text is None:
            return None
        out = {"type": type(node).__name__, "text": text[:_MAX_NODE_TEXT]}
        if len(text) > _MAX_NODE_TEXT:
            out["truncated"] = True
        return out

    def instruction(self, frame):
        """The opcode step's instruction, or None when it is not one."""
        code = frame.f_code
        table = self.instructions.get(code)
        if table is None:
            table = {i.offset: (i.opname, i.arg) for i in dis.get_instructions(code)}
            self.instructions[code] = table
        name, arg = table.get(frame.f_lasti, (None, None))
        if name is None or not is_step_instruction(name, arg):
            return None
        return {"name": name, "offset": frame.f_lasti}

    def emit(self, frame, event, arg, instruction=None):
        state = self.state(frame, event, arg)
        if instruction is not None:
            state["instruction"] = instruction
        if self.nodes is not None:
            state["node"] = self.node(frame)
        with self.lock:
            state["step"] = self.step
            self.step += 1
            # One flushed line per step: the file is whole even if the program dies.
            self.out.write(json.dumps(state, ensure_ascii=True) + "\n")
            self.out.flush()

    # -- sys.settrace entry points ---------------------------------------------
    def global_trace(self, frame, event, arg):
        if event != "call" or not self.recorded(frame):
            return None
        if self.opcodes:
            # f_trace first: 3.13 switches the code's instruction events on
            # when f_trace_opcodes is set on a frame that has a local trace
            # function (the trampoline would set f_trace only afterwards).
            frame.f_trace = self.local_trace
            frame.f_trace_opcodes = True
        self.emit(frame, event, arg)
        return self.local_trace

    def local_trace(self, frame, event, arg):
        if event in ("line", "return", "exception"):
            self.emit(frame, event, arg)
        elif event == "opcode":
            instruction = self.instruction(frame)
            if instruction is not None:
                self.emit(frame, event, arg, instruction)
        return self.local_trace


def install(out_path):
    """Start tracing this thread and every thread started later."""
    opcodes = os.environ.get("HINDSIGHT_ORACLE_GRANULARITY") == "opcode"
    nodes = None
    if os.environ.get("HINDSIGHT_ORACLE_NODES") == "1":
        import executing as nodes  # imported before tracing starts: its frames are not steps
    oracle = Oracle(out_path, os.environ.get("HINDSIGHT_ORACLE_ALL") == "1", opcodes, nodes)

    if opcodes:
        # 3.12: sys.settrace switches instruction events on only once some
        # frame has had f_trace_opcodes set (the interpreter's
        # f_opcode_trace_set); hindsight sets that flag before its hook too.
        me = sys._getframe()
        me.f_trace_opcodes = True
        me.f_trace_opcodes = False
    threading.settrace(oracle.global_trace)
    sys.settrace(oracle.global_trace)
    return oracle
