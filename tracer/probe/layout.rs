// The layout of the probe's context (the data mapping it shares with the
// tracer), in bytes from its start, and the sizes and counts both sides use:
// its one definition. The crate includes this file as `probe::layout`
// (tracer/src/probe/mod.rs) and build.rs includes it too, writing every
// constant here as a `#define` of `probe_layout.h`, which probe.c includes.
// (Plain comments up here: an included file takes no inner doc comment.)

/// Defines each constant as a `usize`, and [`ALL`]: every one with its name,
/// value and doc, for the C header.
macro_rules! layout {
    ($($(#[doc = $doc:literal])* $name:ident = $value:expr;)*) => {
        $($(#[doc = $doc])* pub const $name: usize = $value;)*

        /// Every constant of the layout: name, value, doc (one line per
        /// line of it).
        #[allow(dead_code)]
        pub const ALL: &[(&str, usize, &str)] = &[$((
            stringify!($name),
            $name,
            concat!($($doc, "\n"),*),
        )),*];
    };
}

layout! {
    /// rsp after the entry's pushes, then rbx, rbp, r12-r15: seven words
    /// the entry saves for a fault's recovery to put back.
    OFF_SAVED = 0x00;
    /// The plan's generation, bumped by the tracer with each plan.
    OFF_PLAN_GEN = 0x40;
    /// The generation the probe refreshed last (at a trap); the tracer
    /// sets it to u64::MAX after a fault.
    OFF_DONE_GEN = 0x48;
    /// Ranges in the plan (at `RANGES`).
    OFF_NRANGES = 0x50;
    /// The frame the trace function got at the last refresh, and how many
    /// of its bytes `FRAME_BUF` holds.
    OFF_FRAME = 0x58;
    OFF_FRAME_LEN = 0x60;
    /// Calls of the probe so far.
    OFF_CALLS = 0x68;
    /// The frame whose line steps may go without a trap (0: none); the plan
    /// generation, and the number of steps, that holds for.
    OFF_ARMED = 0x70;
    OFF_ARMED_GEN = 0x78;
    OFF_BUDGET = 0x80;
    /// 1 when the last refresh took no trap (dirty flags then accumulate).
    OFF_KEEP = 0x88;
    /// Steps logged without a trap (entries of the log at `DLOG`), and the
    /// two addresses each logs a word of (two words).
    OFF_LOG_N = 0x90;
    OFF_LINE_AT = 0x98;
    /// Steps taken without a trap so far.
    OFF_TRAPLESS = 0xa8;
    /// 1 when the file filter below is on: events of code whose file is in
    /// the filter's table return at once, without a trap.
    OFF_FILTER_ON = 0xb0;
    /// From the frame the trace function gets to its code object: the
    /// offset of `PyFrameObject.f_frame` (3.11+; `NO_FIELD` before, where
    /// the frame object is the frame), then of `f_code` (or
    /// `f_executable`) in the frame that holds it.
    OFF_F_FRAME = 0xb8;
    OFF_F_CODE = 0xc0;
    /// `PyCodeObject.co_filename`.
    OFF_CO_FILENAME = 0xc8;
    /// `PyFrameObject.f_trace_lines` (one byte): cleared at the call event
    /// of code not recorded, so that CPython skips its line events.
    OFF_F_TRACE_LINES = 0xd0;
    /// The file name's `PyASCIIObject`: the offset of `state`, the bits of
    /// it that make a compact ASCII string, of `length`, and of its bytes.
    OFF_STR_STATE = 0xd8;
    OFF_STR_ASCII_MASK = 0xe0;
    OFF_STR_LENGTH = 0xe8;
    OFF_STR_DATA = 0xf0;
    /// Events the filter answered without a trap so far (the GIL serialises
    /// the probe's callers, so a plain count is exact).
    OFF_SKIPPED = 0xf8;
    /// The frame's bytes (at most `FRAME_MAX`, up to the end of its page).
    FRAME_BUF = 0x100;
    FRAME_MAX = 0x200;
    /// Bytes of the log at `DLOG` its entries take.
    OFF_DLOG_USED = 0x300;
    /// Words recorded so far for the step under way (the entry after the
    /// last one): at a trap, what the trapping step changed of the watched
    /// words, kept so the tracer can put the shadow back as it was at each
    /// logged step.
    OFF_CUR_N = 0x308;
    /// Steps logged with changed words (a subset of `OFF_TRAPLESS`).
    OFF_DELTAS = 0x310;
    /// 1 when a line step may change slot words (the new object copied
    /// into the log) and words of immutable objects without a trap.
    OFF_CAP_ON = 0x318;
    /// `PyObject.ob_type`.
    OFF_OB_TYPE = 0x320;
    /// The longest immutable object the stop read, from its start (its
    /// header and the bytes its value is made of; 0: unknown). A changed
    /// word of a freed immutable object matters only if a watched word now
    /// points this near before it (docs/probe.md).
    OFF_FROZEN_SPAN = 0x328;
    /// Words of freed immutable objects steps changed without a trap so
    /// far (no watched word pointed at them).
    OFF_LOOSE = 0x330;
    /// The most such words one step may change without a trap, and the
    /// most bytes of the plan the probe looks through for a pointer to them.
    LOOSE_MAX = 64;
    LOOSE_SCAN_MAX = 64 << 10;
    /// The types whose objects the probe copies: `CAP_TYPES_MAX` entries of
    /// `CAP_TYPE_BYTES` (the type's address, 0 for none; how its length is
    /// found: 0 fixed, 1 a signed digit count, 2 a digit count shifted in a
    /// tag; the offset of that count; the length before the digits; the
    /// tag's shift).
    CAP_TYPES = 0x340;
    CAP_TYPE_BYTES = 64;
    CAP_TYPES_MAX = 4;
    /// Types of immutable objects (`GUARD_TYPES_MAX` addresses, 0 for
    /// none): a frozen word followed by one of them is the reference count
    /// of such an object, and may change without a trap.
    GUARD_TYPES = 0x440;
    GUARD_TYPES_MAX = 8;
    /// The event (`PyTrace_*`) and argument of the call that stops for the
    /// tracer (its registers no longer hold them at the stop).
    OFF_WHAT = 0x480;
    OFF_ARG = 0x488;
    /// The frame of that call (`OFF_FRAME` is the frame whose bytes
    /// `FRAME_BUF` holds: not written when a fault cut the refresh short).
    OFF_CALL_FRAME = 0x4a0;
    /// The time stamp counter (`rdtsc`) when the probe was called for the
    /// step that stops for the tracer: when that step happened.
    OFF_TRAP_TSC = 0x4a8;
    /// The signal a stop raises at its own thread (tkill), 0 for the int3:
    /// one whose default is to be ignored, so that a thread left stopped
    /// there when hindsight is killed runs on unharmed.
    OFF_TRAP_SIG = 0x490;
    /// The program's trace function the current call chains to, 0 for
    /// none (what a fault's recovery hands back to the entry).
    OFF_CHAIN_NOW = 0x498;
    /// The program's own trace functions: `CHAINS_MAX` pairs of words
    /// (trace object, function; 0 for an empty pair). A call of the probe
    /// whose trace object is in the table ends with a tail call of that
    /// function with CPython's arguments: the program's `sys.settrace`
    /// runs as it would, while the probe stays the thread's trace function.
    CHAINS = 0x4b0;
    CHAINS_MAX = 64;
    /// 1 when opcode events of instructions that are not steps of
    /// `--granularity opcode` (the table at `OPC_STEPS`) return at once,
    /// without a trap; how many did so far.
    OFF_OPC_ON = 0xc00;
    OFF_OPC_SKIPPED = 0xc08;
    /// 3.8-3.10: the frame's `f_lasti` (an int), the shift that makes it a
    /// byte offset (0 or 1), the code's `co_code` and the bytes object's
    /// `ob_size` and `ob_sval`.
    OFF_OPC_LASTI = 0xc10;
    OFF_OPC_LASTI_SHIFT = 0xc18;
    OFF_OPC_CO_CODE = 0xc20;
    OFF_OPC_OB_SIZE = 0xc28;
    OFF_OPC_SVAL = 0xc30;
    /// 3.11+: the interpreter frame's `prev_instr` (`instr_ptr`), the
    /// code's `co_code_adaptive`.
    OFF_OPC_PREV_INSTR = 0xc38;
    OFF_OPC_ADAPTIVE = 0xc40;
    /// 3.12+: `INSTRUMENTED_LINE` and `INSTRUMENTED_INSTRUCTION` (256: none),
    /// the code's `_co_monitoring`, its `lines` and
    /// `per_instruction_opcodes`, and a line entry's `original_opcode` and
    /// size.
    OFF_OPC_INSTR_LINE = 0xc48;
    OFF_OPC_INSTR_INSTR = 0xc50;
    OFF_OPC_MON = 0xc58;
    OFF_OPC_MON_LINES = 0xc60;
    OFF_OPC_MON_PER = 0xc68;
    OFF_OPC_LINE_ORIG = 0xc70;
    OFF_OPC_LINE_SIZE = 0xc78;
    /// Objects copied since the last stop that no word of the plan covers,
    /// each the new occupant of a slot: how many (at most `TRACK_MAX`), and
    /// the table at `TRACK` (`TRACK_BYTES` each: the slot's offset in the
    /// shadow, the object's address, where its copy is from the context's
    /// start, its own length). A step that changes one of them (freed and
    /// another made in its place under the same slot) traps.
    OFF_TRACK_N = 0xc80;
    TRACK = 0xf00;
    TRACK_BYTES = 32;
    TRACK_MAX = 8;
    /// Plan ranges looked through for the one holding a copied object.
    TRACK_SCAN = 64;
    /// One byte per opcode: 0 not a step, 1 a step, 2 a step when its
    /// argument's byte at `OPC_INPLACE` is 1 (`BINARY_OP`).
    OPC_STEPS = 0xd00;
    OPC_INPLACE = 0xe00;
    /// Bytes copied of an object at least (the tracer's window for an
    /// object it has not seen), within its page, and the longest object
    /// copied.
    CAP_WINDOW = 160;
    CAP_OBJ_MAX = 512;
    /// Steps the probe logs at most between two traps.
    LOG_MAX = 4096;
    /// A log entry: the two position words, the count of words recorded and
    /// of objects copied (4 bytes each), the entry's bytes, and the time
    /// stamp counter when the probe was called for the step; then the
    /// words (`WORD_REC_BYTES` each: offset in the shadow, value before,
    /// value after, address in the target), then the objects (`CAP_HDR_BYTES`: address, bytes
    /// copied and the object's own length, 4 bytes each; the bytes, padded
    /// to 8).
    ENTRY_HDR = 40;
    WORD_REC_BYTES = 32;
    CAP_HDR_BYTES = 16;
    /// The plan: ranges of `RANGE_BYTES` each (address, 8 bytes; length
    /// and offset in the shadow, 4 bytes each).
    RANGES = 0x1000;
    RANGE_BYTES = 16;
    /// Ranges of a plan the probe refreshes.
    MAX_RANGES = 8192;
    /// Bytes of a chunk of the shadow, the unit of its dirty and watch
    /// flags: eight words, one watch bit each.
    CHUNK = 64;
    /// One byte per chunk of the shadow: whether the last refresh changed
    /// it.
    DIRTY = RANGES + MAX_RANGES * RANGE_BYTES;
    /// Bytes of the shadow: a plan beyond it is read the usual way past
    /// this.
    SHADOW_BYTES = 4 << 20;
    /// One byte per chunk of the shadow: bit w says the armed stop read
    /// word w.
    WATCH = DIRTY + SHADOW_BYTES / CHUNK;
    /// One byte per chunk: bit w says word w is an object pointer the
    /// decoders follow (a local, a list's item): a change to an object the
    /// probe copies needs no trap.
    SLOT = WATCH + SHADOW_BYTES / CHUNK;
    /// One byte per chunk: bit w says word w lies in an immutable object
    /// the stop decoded (or on a page of them a container holds): where it
    /// is such an object's reference count, its change needs no trap.
    FROZEN = SLOT + SHADOW_BYTES / CHUNK;
    /// The shadow: the plan's ranges, each at a multiple of `CHUNK`.
    SHADOW = FROZEN + SHADOW_BYTES / CHUNK;
    /// The file filter's table: names of files that are not recorded, one
    /// a slot (length, 8 bytes, then the name's bytes), placed by the
    /// FNV-1a hash of the name and looked for in `FILTER_PROBES` slots from
    /// there. A slot of length 0 is empty.
    FILTER = SHADOW + SHADOW_BYTES;
    FILTER_SLOTS = 1024;
    FILTER_SLOT_BYTES = 256;
    FILTER_PROBES = 8;
    /// The longest name the table holds.
    FILTER_NAME_MAX = FILTER_SLOT_BYTES - 8;
    /// The log of steps taken without a trap since the last stop, entries
    /// back to back (`ENTRY_HDR`); steps are logged while it is less than
    /// half full, the rest is for the words a trapping step changes.
    DLOG = FILTER + FILTER_SLOTS * FILTER_SLOT_BYTES;
    DLOG_BYTES = 1 << 20;
    /// An offset that does not apply to this interpreter.
    NO_FIELD = usize::MAX;
    /// Bytes of the context.
    DATA_BYTES = DLOG + DLOG_BYTES;
}

const _: () = assert!(
    OFF_SAVED + 7 * 8 <= OFF_PLAN_GEN
        && OFF_LINE_AT + 16 <= OFF_TRAPLESS
        && OFF_SKIPPED + 8 <= FRAME_BUF
        && FRAME_BUF + FRAME_MAX <= OFF_DLOG_USED
        && OFF_LOOSE + 8 <= CAP_TYPES
        && CAP_TYPES + CAP_TYPES_MAX * CAP_TYPE_BYTES <= GUARD_TYPES
        && GUARD_TYPES + GUARD_TYPES_MAX * 8 <= OFF_WHAT
        && OFF_CALL_FRAME + 8 <= OFF_TRAP_TSC
        && OFF_TRAP_TSC + 8 <= CHAINS
        && CHAINS + CHAINS_MAX * 16 <= OFF_OPC_ON
        && OFF_OPC_LINE_SIZE + 8 <= OPC_STEPS
        && OFF_TRACK_N + 8 <= OPC_STEPS
        && OPC_INPLACE + 256 <= TRACK
        && TRACK + TRACK_MAX * TRACK_BYTES <= RANGES
        && CHUNK == 8 * 8
);
