"""Prints the opcode table of the running CPython for
tracer/src/cpython/version/opcodes.rs: which bytes of an instruction stream
(base, specialized and superinstruction forms) are instructions that bind a
name or mutate an object in place (the steps of `--granularity opcode`),
which are BINARY_OP and which of its opargs are in-place, and the
instrumentation opcodes that hide the real one (3.12+).

    for v in 3.8 ... 3.13: python3.X scripts/gen-opcodes.py
"""
import dis
import opcode
import sys

EXTRA = {"LIST_APPEND", "SET_ADD", "MAP_ADD"}


def mutating(name):
    """The rule the oracle uses too (tests/oracle/hindsight_oracle.py)."""
    return name.startswith(("STORE_", "DELETE_", "INPLACE_")) or name in EXTRA


def all_opmap():
    m = dict(getattr(dis, "_all_opmap", opcode.opmap))
    m.update(opcode.opmap)
    return m


def specializations():
    s = getattr(opcode, "_specializations", None)
    if s is None:
        try:
            import _opcode_metadata
            s = _opcode_metadata._specializations
        except ImportError:
            s = {}
    return s


def main():
    m = all_opmap()
    deopt = {name: name for name in m}
    for base, family in specializations().items():
        for spec in family:
            deopt[spec] = base
    stores = sorted(
        (num, deopt[name]) for name, num in m.items()
        if num < 256 and mutating(deopt[name])
    )
    binary = sorted(num for name, num in m.items() if num < 256 and deopt[name] == "BINARY_OP")
    nb = getattr(opcode, "_nb_ops", [])
    inplace = [i for i, (n, _) in enumerate(nb) if n.startswith("NB_INPLACE_")]
    v = "%d%d" % sys.version_info[:2]
    print("/// CPython %d.%d." % sys.version_info[:2])
    print("pub(crate) const V%s: Opcodes = Opcodes {" % v)
    print("    stores: &[")
    for num, name in stores:
        print('        (%d, "%s"),' % (num, name))
    print("    ],")
    print("    binary_op: &%s," % binary)
    print("    inplace_args: &%s," % inplace)
    for field, name in (("instrumented_line", "INSTRUMENTED_LINE"),
                        ("instrumented_instruction", "INSTRUMENTED_INSTRUCTION")):
        print("    %s: %s," % (field, "Some(%d)" % m[name] if name in m else "None"))
    print("};")


main()
