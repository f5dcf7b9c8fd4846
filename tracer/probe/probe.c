/* The probe: code hindsight places in the target (a shared memory mapping
 * of its own) as the C trace function. Before the step's trap it copies the
 * ranges the tracer will read at this stop (the plan the tracer wrote into
 * the shared context) into the shared shadow, so the tracer reads them there
 * instead of through a process_vm_readv whose cost grows with every page.
 *
 * A line step of the frame the tracer armed, where no word the previous
 * stop read changed but the frame's position (the watch mask says which
 * words of the plan it read, the position's left out), takes no trap: the probe logs
 * the position's two words and returns, and the tracer makes those steps at
 * its next stop. The state of such a step is the previous step's, at
 * another line.
 *
 * Events of code from a file the tracer does not record (the filter's
 * table in the context holds its name) return at once, without a trap.
 *
 * Freestanding and position independent: no globals, no calls out, no
 * relocations (build.rs refuses any). The context's address is an
 * immediate the tracer patches in at `hs_ctx_imm`.
 *
 * A fault here (a planned page unmapped since the plan was made) stops the
 * thread with SIGSEGV under ptrace before any handler runs; the tracer sets
 * the registers the entry saved in the context back, resumes at `hs_back`
 * with a nonzero rax (so to the trap), and reads that stop's plan itself.
 * Layout of the context: tracer/probe/layout.rs.
 */

typedef unsigned long u64;
typedef unsigned int u32;
typedef unsigned char u8;
typedef u64 __attribute__((aligned(1), may_alias)) u64u;

/* The context's layout (OFF_*, RANGES, SHADOW, ...): tracer/probe/layout.rs,
 * written out by build.rs. */
#include "probe_layout.h"

#define PY_TRACE_CALL 0
#define PY_TRACE_LINE 2

#define STR_(x) #x
#define STR(x) STR_(x)

#define FIELD(c, off) (*(volatile u64 *)((u8 *)(c) + (off)))

struct range {
    u64 addr;
    u32 len;
    u32 at;
};
_Static_assert(sizeof(struct range) == RANGE_BYTES, "a plan's range");
_Static_assert(CHUNK == 8 * sizeof(u64), "a chunk: eight words, a watch bit each");

/* dst = src over len bytes, writing only the 64-byte chunks that differ
 * (unchanged shadow lines stay clean in both processes' caches), and for
 * each chunk whether it changed since the last trap (dirty[k] for the k-th
 * chunk from dst; `keep` 1 adds to the flags, 0 replaces them). Returns the
 * changed words the watch masks name (bit w of watch[k]: word w of chunk k)
 * as a nonzero value. */
static inline __attribute__((always_inline)) u32 refresh_range(u8 *dst, const u8 *src, u32 len,
                                                               u8 *dirty, const u8 *watch,
                                                               u8 keep)
{
    u32 hit = 0;
    u32 i = 0;
    for (; i + CHUNK <= len; i += CHUNK) {
        const u64u *s = (const u64u *)(src + i);
        u64u *d = (u64u *)(dst + i);
        u64 x = 0;
        for (int w = 0; w < 8; w++)
            x |= s[w] ^ d[w];
        u8 changed = 0;
        if (x) {
            u32 m = 0;
            for (int w = 0; w < 8; w++) {
                m |= (u32)(s[w] != d[w]) << w;
                d[w] = s[w];
            }
            hit |= m & *watch;
            changed = 1;
        }
        *dirty = (*dirty & keep) | changed;
        dirty++;
        watch++;
    }
    if (i < len) {
        u32 m = 0;
        for (u32 j = 0; i < len; i++, j++) {
            if (dst[i] != src[i])
                m |= 1u << (j / 8);
            dst[i] = src[i];
        }
        hit |= m & *watch;
        *dirty = (*dirty & keep) | (m != 0);
    }
    return hit;
}

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

/* Refresh the plan and the frame's bytes; 0 when this step goes without a
 * trap (logged, or code the filter says is not recorded), else 1. */
static __attribute__((used, noipa)) u64 hs_refresh(u8 *ctx, u64 frame, u64 what)
{
    if (frame && filtered_out(ctx, frame)) {
        /* Its lines will never be steps: let CPython skip them. */
        if ((u32)what == PY_TRACE_CALL)
            *(volatile u8 *)(frame + FIELD(ctx, OFF_F_TRACE_LINES)) = 0;
        FIELD(ctx, OFF_SKIPPED) += 1;
        return 0;
    }
    u64 n = FIELD(ctx, OFF_NRANGES);
    const struct range *r = (const struct range *)(ctx + RANGES);
    u8 *shadow = ctx + SHADOW;
    u8 *dirty = ctx + DIRTY;
    const u8 *watch = ctx + WATCH;
    u8 keep = FIELD(ctx, OFF_KEEP) & 1;
    u32 hit = 0;
    if (n > MAX_RANGES)
        n = MAX_RANGES;
    for (u64 k = 0; k < n; k++) {
        u64 at = r[k].at, len = r[k].len;
        if (at > SHADOW_BYTES || len > SHADOW_BYTES - at || at % CHUNK)
            break;
        hit |= refresh_range(shadow + at, (const u8 *)r[k].addr, (u32)len, dirty + at / CHUNK,
                             watch + at / CHUNK, keep);
    }
    /* The frame object the trace function got (new at a call event). */
    u64 flen = 0;
    if (frame) {
        flen = 4096 - (frame & 4095);
        if (flen > FRAME_MAX)
            flen = FRAME_MAX;
        /* Its bytes the stop read are in the plan too, watched there. */
        u8 unused[FRAME_MAX / CHUNK];
        const u8 unwatched[FRAME_MAX / CHUNK] = {0};
        refresh_range(ctx + FRAME_BUF, (const u8 *)frame, (u32)flen, unused, unwatched, 0);
    }
    FIELD(ctx, OFF_FRAME) = frame;
    FIELD(ctx, OFF_FRAME_LEN) = flen;
    FIELD(ctx, OFF_CALLS) += 1;
    u64 logged = FIELD(ctx, OFF_LOG_N);
    if (frame && frame == FIELD(ctx, OFF_ARMED) && (u32)what == PY_TRACE_LINE && !hit
        && FIELD(ctx, OFF_ARMED_GEN) == FIELD(ctx, OFF_PLAN_GEN) && FIELD(ctx, OFF_BUDGET) > 0
        && logged < LOG_MAX) {
        /* Both words lie in what was just refreshed: readable. */
        u64 *e = (u64 *)(ctx + LOG + logged * LOG_ENTRY_BYTES);
        e[0] = *(volatile u64 *)FIELD(ctx, OFF_LINE_AT);
        e[1] = *(volatile u64 *)FIELD(ctx, OFF_LINE_AT + 8);
        FIELD(ctx, OFF_LOG_N) = logged + 1;
        FIELD(ctx, OFF_BUDGET) -= 1;
        FIELD(ctx, OFF_KEEP) = 1;
        FIELD(ctx, OFF_TRAPLESS) += 1;
        return 0;
    }
    FIELD(ctx, OFF_ARMED) = 0;
    FIELD(ctx, OFF_KEEP) = 0;
    FIELD(ctx, OFF_DONE_GEN) = FIELD(ctx, OFF_PLAN_GEN);
    return 1;
}

/* The trace function: int (*)(PyObject *, PyFrameObject *, int, PyObject *).
 * Keeps its arguments for the tracer (rsi, rdx, rcx at the trap are what
 * CPython passed), saves what a fault recovery must restore, refreshes the
 * shadow, traps unless the refresh logged the step, returns 0. The nop at
 * hs_trap becomes the int3. */
__asm__(
    ".text\n"
    ".globl hs_entry\n"
    "hs_entry:\n"
    "    push %rsi\n"
    "    push %rdx\n"
    "    push %rcx\n"
    ".globl hs_ctx_imm\n"
    "    .byte 0x48, 0xbf\n" /* movabs $imm64, %rdi */
    "hs_ctx_imm:\n"
    "    .quad 0\n"
    "    mov %rsp, " STR(OFF_SAVED) "+0x00(%rdi)\n"
    "    mov %rbx, " STR(OFF_SAVED) "+0x08(%rdi)\n"
    "    mov %rbp, " STR(OFF_SAVED) "+0x10(%rdi)\n"
    "    mov %r12, " STR(OFF_SAVED) "+0x18(%rdi)\n"
    "    mov %r13, " STR(OFF_SAVED) "+0x20(%rdi)\n"
    "    mov %r14, " STR(OFF_SAVED) "+0x28(%rdi)\n"
    "    mov %r15, " STR(OFF_SAVED) "+0x30(%rdi)\n"
    "    call hs_refresh\n" /* (ctx, frame, what): rsi and rdx are still those */
    ".globl hs_back\n"
    "hs_back:\n"
    "    pop %rcx\n"
    "    pop %rdx\n"
    "    pop %rsi\n"
    "    test %rax, %rax\n"
    "    jz 1f\n"
    ".globl hs_trap\n"
    "hs_trap:\n"
    "    nop\n"
    "1:\n"
    "    xor %eax, %eax\n"
    "    ret\n");
