/* Events the probe answers itself, without a trap: those of code from a
 * file the tracer does not record (the filter's table), and opcode events
 * of instructions that are not steps of --granularity opcode. Included by
 * probe.c: one translation unit, no relocations. */

/* FNV-1a (64 bits) of len bytes: the file filter's slot of a name. The
 * tracer's copy is filter_hash in tracer/src/probe/filter.rs. */
static inline __attribute__((always_inline)) u64 fnv1a(const u8 *s, u64 len)
{
    u64 h = 0xcbf29ce484222325ul;
    for (u64 i = 0; i < len; i++)
        h = (h ^ s[i]) * 0x100000001b3ul;
    return h;
}

/* Whether the code `frame` runs comes from a file the tracer put in the
 * filter's table (one it does not record). Only the name's bytes decide,
 * never an address, so a code object or a name string freed and another
 * made at its address can give no stale answer. Names that are not compact
 * ASCII strings are never in the table: their events trap. */
static inline __attribute__((always_inline)) u64 filtered_out(const u8 *ctx, u64 frame)
{
    if (!FIELD(ctx, OFF_FILTER_ON))
        return 0;
    u64 f = frame;
    u64 via = FIELD(ctx, OFF_F_FRAME);
    if (via != NO_FIELD) {
        f = *(volatile u64 *)(f + via);
        if (!f)
            return 0;
    }
    u64 code = *(volatile u64 *)(f + FIELD(ctx, OFF_F_CODE));
    if (!code)
        return 0;
    u64 name = *(volatile u64 *)(code + FIELD(ctx, OFF_CO_FILENAME));
    if (!name)
        return 0;
    u64 mask = FIELD(ctx, OFF_STR_ASCII_MASK);
    if ((*(volatile u32 *)(name + FIELD(ctx, OFF_STR_STATE)) & mask) != mask)
        return 0;
    u64 len = *(volatile u64 *)(name + FIELD(ctx, OFF_STR_LENGTH));
    if (len == 0 || len > FILTER_NAME_MAX)
        return 0;
    const u8 *s = (const u8 *)(name + FIELD(ctx, OFF_STR_DATA));
    u64 h = fnv1a(s, len);
    for (u64 i = 0; i < FILTER_PROBES; i++) {
        const u8 *e = ctx + FILTER + ((h + i) % FILTER_SLOTS) * FILTER_SLOT_BYTES;
        u64 elen = *(const volatile u64 *)e;
        if (elen == 0)
            return 0;
        if (elen != len)
            continue;
        u64 j = 0;
        while (j < len && e[8 + j] == s[j])
            j++;
        if (j == len)
            return 1;
    }
    return 0;
}

/* Whether the instruction `frame` is at is a step of --granularity opcode
 * (it binds a name or mutates an object in place: the table at OPC_STEPS);
 * 1 also when it cannot tell (the tracer decides then). 3.8-3.10: the byte
 * at f_lasti in co_code; 3.11+: the byte at the interpreter frame's
 * prev_instr, and on 3.12+ an instrumented instruction's own opcode from
 * the code's monitoring data (behind INSTRUMENTED_LINE, then
 * INSTRUMENTED_INSTRUCTION), as the tracer reads it. */
static inline __attribute__((always_inline)) u64 opcode_step(const u8 *ctx, u64 frame)
{
    u64 via = FIELD(ctx, OFF_F_FRAME);
    u64 code, at;
    if (via != NO_FIELD) {
        u64 f = *(volatile u64 *)(frame + via);
        if (!f)
            return 1;
        code = *(volatile u64 *)(f + FIELD(ctx, OFF_F_CODE));
        at = *(volatile u64 *)(f + FIELD(ctx, OFF_OPC_PREV_INSTR));
    } else {
        code = *(volatile u64 *)(frame + FIELD(ctx, OFF_F_CODE));
        long lasti = *(volatile int *)(frame + FIELD(ctx, OFF_OPC_LASTI));
        if (!code || lasti < 0)
            return 1;
        u64 bytes = *(volatile u64 *)(code + FIELD(ctx, OFF_OPC_CO_CODE));
        if (!bytes)
            return 1;
        u64 size = *(volatile u64 *)(bytes + FIELD(ctx, OFF_OPC_OB_SIZE));
        u64 off = (u64)lasti << FIELD(ctx, OFF_OPC_LASTI_SHIFT);
        if (off + 2 > size)
            return 1;
        at = bytes + FIELD(ctx, OFF_OPC_SVAL) + off;
    }
    if (!code || !at)
        return 1;
    u64 op = *(volatile u8 *)at;
    u64 arg = *(volatile u8 *)(at + 1);
    u64 il = FIELD(ctx, OFF_OPC_INSTR_LINE), ii = FIELD(ctx, OFF_OPC_INSTR_INSTR);
    if (op == il || op == ii) {
        u64 mon = *(volatile u64 *)(code + FIELD(ctx, OFF_OPC_MON));
        u64 start = code + FIELD(ctx, OFF_OPC_ADAPTIVE);
        if (!mon || at < start)
            return 1;
        u64 i = (at - start) / 2;
        if (op == il) {
            u64 lines = *(volatile u64 *)(mon + FIELD(ctx, OFF_OPC_MON_LINES));
            if (!lines)
                return 1;
            op = *(volatile u8 *)(lines + i * FIELD(ctx, OFF_OPC_LINE_SIZE)
                                  + FIELD(ctx, OFF_OPC_LINE_ORIG));
        }
        if (op == ii) {
            u64 per = *(volatile u64 *)(mon + FIELD(ctx, OFF_OPC_MON_PER));
            if (!per)
                return 1;
            op = *(volatile u8 *)(per + i);
        }
    }
    u8 kind = ctx[OPC_STEPS + op];
    if (kind == 2)
        return ctx[OPC_INPLACE + arg] != 0;
    return kind != 0;
}
