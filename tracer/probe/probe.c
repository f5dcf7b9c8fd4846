/* The probe: code hindsight places in the target (a shared memory mapping
 * of its own) as the C trace function. Before the step's trap it copies the
 * ranges the tracer will read at this stop (the plan the tracer wrote into
 * the shared context) into the shared shadow, so the tracer reads them there
 * instead of through a process_vm_readv whose cost grows with every page.
 *
 * A line step of the frame the tracer armed, where no word the previous
 * stop read changed but the frame's position (the watch mask says which
 * words of the plan it read, the position's left out), or where those that
 * changed are slots now pointing at objects the probe copies (ints,
 * floats) or words of immutable objects, takes no trap: the probe logs the
 * position's two words, the changed words and the copied objects, and
 * returns; the tracer makes those steps at its next stop, rewinding the
 * shadow to each of them with the log (docs/probe.md).
 *
 * Events of code from a file the tracer does not record (the filter's
 * table in the context holds its name) return at once, without a trap, and
 * so do opcode events of instructions that are not steps (the opcode
 * table in the context says which are).
 *
 * Freestanding and position independent: no globals, no calls out, no
 * relocations (build.rs refuses any). The context's address is an
 * immediate the tracer patches in at `hs_ctx_imm`.
 *
 * A fault here (a planned page unmapped since the plan was made) stops the
 * thread with SIGSEGV under ptrace before any handler runs; the tracer sets
 * the registers the entry saved in the context back, resumes at `hs_back`
 * with rax TRAP_INT3 (so to the int3) and rdx the chained function, and
 * reads that stop's plan itself.
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
#define PY_TRACE_OPCODE 7

/* hs_refresh's answer for a stop at the int3. */
#define TRAP_INT3 1
#define SYS_RT_SIGPROCMASK 14

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

/* Where the words a refresh changes are recorded (the log entry under
 * way): `on` 0 records nothing. A word that does not fit sets `overflow`,
 * and its chunk is then left as it was in the shadow (its old value is not
 * lost). */
struct rec {
    u8 *out;
    const u8 *end;
    u8 *ctx;
    u64 n;
    u64 on;
    u64 overflow;
};

/* Record the words of a chunk whose bits are set in wm (their offset in
 * the shadow from `off`, old and new values). Kept apart and not
 * vectorised: a vector constant would need a relocation. */
static __attribute__((noinline, optimize("no-tree-vectorize"))) void
record_words(struct rec *rc, const u64 *d, const u64u *s, u32 wm, u64 off)
{
    for (int w = 0; w < 8; w++) {
        if (!(wm >> w & 1))
            continue;
        u64 *r = (u64 *)rc->out;
        r[0] = off + 8 * (u64)w;
        r[1] = d[w];
        r[2] = s[w];
        r[3] = (u64)&s[w];
        rc->out += WORD_REC_BYTES;
        rc->n++;
    }
    /* Counted as they land: a fault later in this refresh leaves them for
     * the tracer. */
    FIELD(rc->ctx, OFF_CUR_N) = rc->n;
}

/* Compare and copy the first nw (at most 8) words of a chunk; the mask of
 * those that changed. Changed words the watch mask names are recorded in
 * `rc` when that is on (their offset in the shadow from `off`); a chunk
 * whose records do not fit is put back as it was. */
static inline __attribute__((always_inline)) u32 refresh_chunk(u64u *d, const u64u *s, u32 nw,
                                                               u8 watch, struct rec *rc, u64 off,
                                                               u32 *hit)
{
    u64 old[8];
    u32 m = 0;
    for (u32 w = 0; w < nw; w++) {
        old[w] = d[w];
        m |= (u32)(s[w] != d[w]) << w;
        d[w] = s[w];
    }
    u32 wm = m & watch;
    *hit |= wm;
    if (wm && rc->on) {
        u32 c = wm - ((wm >> 1) & 0x55);
        c = (c & 0x33) + ((c >> 2) & 0x33);
        u64 need = (u64)((c + (c >> 4)) & 0x0f) * WORD_REC_BYTES;
        if (rc->overflow || rc->out + need > rc->end) {
            /* No room to keep the old values: left as they were. */
            rc->overflow = 1;
            for (u32 w = 0; w < nw; w++)
                d[w] = old[w];
        } else {
            record_words(rc, old, s, wm, off);
        }
    }
    return m;
}

/* dst = src over len bytes, writing only the 64-byte chunks that differ
 * (unchanged shadow lines stay clean in both processes' caches), and for
 * each chunk whether it changed since the last trap (dirty[k] for the k-th
 * chunk from dst; `keep` 1 adds to the flags, 0 replaces them). Each
 * changed word the watch masks name is recorded in `rc` when that is on.
 * The last chunk is compared in whole words (a range ends within its page,
 * whose end is a word's). Returns the changed words the watch masks name
 * (bit w of watch[k]: word w of chunk k) as a nonzero value. */
static inline __attribute__((always_inline)) u32 refresh_range(u8 *dst, const u8 *src, u32 len,
                                                               u8 *dirty, const u8 *watch,
                                                               u8 keep, struct rec *rc, u64 at)
{
    u32 hit = 0;
    u32 i = 0;
    while (i + CHUNK <= len) {
        /* Most of a plan is unchanged at most steps: four chunks are looked
         * at together, and their flags written only when they must change. */
        if (i + 4 * CHUNK <= len) {
            const u64u *s = (const u64u *)(src + i);
            const u64u *d = (const u64u *)(dst + i);
            u64 x = 0;
            for (int w = 0; w < 32; w++)
                x |= s[w] ^ d[w];
            if (!x) {
                if (!keep) {
                    for (int k = 0; k < 4; k++)
                        dirty[k] = 0;
                }
                i += 4 * CHUNK;
                dirty += 4;
                watch += 4;
                continue;
            }
        }
        const u64u *s = (const u64u *)(src + i);
        u64u *d = (u64u *)(dst + i);
        u64 x = 0;
        for (int w = 0; w < 8; w++)
            x |= s[w] ^ d[w];
        u8 changed = 0;
        if (x) {
            refresh_chunk(d, s, 8, *watch, rc, at + i, &hit);
            changed = 1;
        }
        *dirty = (*dirty & keep) | changed;
        dirty++;
        watch++;
        i += CHUNK;
    }
    if (i < len) {
        u32 m = refresh_chunk((u64u *)(dst + i), (const u64u *)(src + i), (len - i + 7) / 8,
                              *watch, rc, at + i, &hit);
        *dirty = (*dirty & keep) | (m != 0);
    }
    return hit;
}

/* Whether bit `w` of the byte-per-chunk mask at `mask` is set. */
static inline __attribute__((always_inline)) u64 bit_of(const u8 *mask, u64 w)
{
    return mask[w / 8] >> (w % 8) & 1;
}

/* Copy the object at p into the log at *at (its header, then its bytes:
 * the tracer's window of CAP_WINDOW bytes within its page, or the whole
 * object when longer), when its type is one the tracer listed; 0 when not
 * (or when it does not fit before end). */
static inline __attribute__((always_inline)) u64 capture(const u8 *ctx, u64 p, u8 **at,
                                                         const u8 *end)
{
    if (p & 7)
        return 0;
    u64 ty = *(volatile u64 *)(p + FIELD(ctx, OFF_OB_TYPE));
    const u64 *t = (const u64 *)(ctx + CAP_TYPES);
    u64 k = 0;
    for (; k < CAP_TYPES_MAX; k++)
        if (ty && t[k * (CAP_TYPE_BYTES / 8)] == ty)
            break;
    if (k == CAP_TYPES_MAX)
        return 0;
    const u64 *e = t + k * (CAP_TYPE_BYTES / 8);
    u64 kind = e[1], field = e[2], objlen = e[3];
    u64 n = 0;
    if (kind == 1) {
        long size = *(volatile long *)(p + field);
        n = size < 0 ? (u64)-size : (u64)size;
    } else if (kind == 2) {
        n = *(volatile u64 *)(p + field) >> e[4];
    }
    if (kind != 0) {
        if (n == 0)
            n = 1;
        if (n > CAP_OBJ_MAX)
            return 0;
        objlen += 4 * n;
    }
    if (objlen > CAP_OBJ_MAX)
        return 0;
    u64 len = 4096 - (p & 4095);
    if (len > CAP_WINDOW)
        len = CAP_WINDOW;
    /* A window cut by the page end: the whole object, in words, and at
     * least the 32 bytes the tracer reads of an atom whose window is. */
    u64 whole = (objlen + 7) & ~7ul;
    if (whole < 32)
        whole = 32;
    if (len < whole)
        len = whole;
    u64 padded = (len + 7) & ~7ul;
    if (*at + CAP_HDR_BYTES + padded > end)
        return 0;
    u64 *h = (u64 *)*at;
    h[0] = p;
    h[1] = len | objlen << 32;
    /* In words: p is aligned, and `padded` ends at the page's end or at
     * the object's last word, both readable. */
    u64 *dst = (u64 *)(*at + CAP_HDR_BYTES);
    const volatile u64 *src = (const volatile u64 *)p;
    for (u64 i = 0; i < padded / 8; i++)
        dst[i] = src[i];
    *at += CAP_HDR_BYTES + padded;
    return 1;
}

/* Whether ty is one of the types of immutable objects the tracer listed.
 * Not vectorised: a vector constant would need a relocation. */
static __attribute__((noinline, optimize("no-tree-vectorize"))) u64 guard_type(const u8 *ctx,
                                                                              u64 ty)
{
    const u64 *g = (const u64 *)(ctx + GUARD_TYPES);
    for (u64 k = 0; k < GUARD_TYPES_MAX; k++)
        if (ty && g[k] == ty)
            return 1;
    return 0;
}

/* Whether address a lies in one of the objects copied between caps and
 * end (their own bytes, not the window past them). */
static inline __attribute__((always_inline)) u64 copied(const u8 *caps, const u8 *end, u64 a)
{
    while (caps < end) {
        const u64 *h = (const u64 *)caps;
        u64 len = h[1] & 0xffffffff, objlen = h[1] >> 32;
        if (a >= h[0] && a < h[0] + objlen)
            return 1;
        caps += CAP_HDR_BYTES + ((len + 7) & ~7ul);
    }
    return 0;
}

/* Whether a watched word the decoders may follow (not a frozen one) now
 * points at an object that may hold one of
 * the `na` addresses at `a`: its value within OFF_FROZEN_SPAN bytes before
 * it. 1 also when that cannot be told cheaply (no span, a large plan). */
static __attribute__((noinline, optimize("no-tree-vectorize"))) u64 pointed_at(const u8 *ctx,
                                                                              const u64 *a, u64 na)
{
    u64 span = FIELD(ctx, OFF_FROZEN_SPAN);
    if (span == 0 || span > CAP_OBJ_MAX)
        return 1;
    u64 n = FIELD(ctx, OFF_NRANGES);
    if (n > MAX_RANGES)
        n = MAX_RANGES;
    const struct range *r = (const struct range *)(ctx + RANGES);
    /* Most watched words point nowhere near: one test against the bounds. */
    u64 lo = a[0], hi = a[0];
    for (u64 i = 1; i < na; i++) {
        lo = a[i] < lo ? a[i] : lo;
        hi = a[i] > hi ? a[i] : hi;
    }
    u64 scanned = 0;
    for (u64 k = 0; k < n; k++) {
        u64 at = r[k].at, len = r[k].len;
        if (at > SHADOW_BYTES || len > SHADOW_BYTES - at || at % CHUNK)
            return 1;
        scanned += len;
        if (scanned > LOOSE_SCAN_MAX)
            return 1;
        for (u64 c = at / CHUNK; c < (at + len + CHUNK - 1) / CHUNK; c++) {
            /* Frozen words are never pointers the decoders follow: words of
             * atoms (which have no children) and of held pages outside
             * them (allocator bookkeeping, freed blocks). */
            u32 wm = ctx[WATCH + c] & (u32)(u8)~ctx[FROZEN + c];
            while (wm) {
                u32 w = (u32)__builtin_ctz(wm);
                wm &= wm - 1;
                u64 v = *(const u64 *)(ctx + SHADOW + c * CHUNK + 8 * w);
                if (v > hi || hi - v >= span + (hi - lo))
                    continue;
                for (u64 i = 0; i < na; i++)
                    if (v <= a[i] && a[i] - v < span)
                        return 1;
            }
        }
    }
    return 0;
}

/* Whether the `len` bytes of an object at p, past its reference count,
 * are all words the armed stop read (in one of the plan's first
 * TRACK_SCAN ranges): a change to them is then seen as a watched word's. */
static __attribute__((noinline, optimize("no-tree-vectorize"))) u64 watched_obj(const u8 *ctx,
                                                                               u64 p, u64 len)
{
    u64 n = FIELD(ctx, OFF_NRANGES);
    if (n > TRACK_SCAN)
        n = TRACK_SCAN;
    const struct range *r = (const struct range *)(ctx + RANGES);
    u64 first = p + 8, end = (p + len + 7) & ~7ul;
    for (u64 k = 0; k < n; k++) {
        if (first < r[k].addr || end > r[k].addr + r[k].len)
            continue;
        u64 at = r[k].at + (first - r[k].addr);
        if (at + (end - first) > SHADOW_BYTES)
            return 0;
        for (u64 o = at; o < at + (end - first); o += 8)
            if (!bit_of(ctx + WATCH, o / 8))
                return 0;
        return 1;
    }
    return 0;
}

/* Whether an object of the table at TRACK (copied at an earlier logged
 * step, its slot unchanged since) no longer holds the bytes of its copy
 * past its reference count: freed, and another made in its place. */
static __attribute__((noinline, optimize("no-tree-vectorize"))) u64 tracked_changed(const u8 *ctx)
{
    u64 n = FIELD(ctx, OFF_TRACK_N);
    if (n > TRACK_MAX)
        return 1;
    for (u64 k = 0; k < n; k++) {
        const u64 *t = (const u64 *)(ctx + TRACK + k * TRACK_BYTES);
        const volatile u8 *obj = (const volatile u8 *)t[1];
        const u8 *copy = ctx + t[2];
        for (u64 i = 8; i < t[3]; i++)
            if (obj[i] != copy[i])
                return 1;
    }
    return 0;
}

/* Keep, for the slot at shadow offset `slot`, the object it now points to
 * (0: none) and its copy; 0 when the table is full. */
static __attribute__((noinline, optimize("no-tree-vectorize"))) u64 track(u8 *ctx, u64 slot, u64 obj,
                                                                         u64 copy, u64 objlen)
{
    u64 n = FIELD(ctx, OFF_TRACK_N);
    u64 k = 0;
    for (; k < n; k++)
        if (*(const u64 *)(ctx + TRACK + k * TRACK_BYTES) == slot)
            break;
    if (!obj) {
        if (k < n) {
            u64 *last = (u64 *)(ctx + TRACK + (n - 1) * TRACK_BYTES);
            u64 *t = (u64 *)(ctx + TRACK + k * TRACK_BYTES);
            for (int w = 0; w < 4; w++)
                t[w] = last[w];
            FIELD(ctx, OFF_TRACK_N) = n - 1;
        }
        return 1;
    }
    if (k == n) {
        if (n == TRACK_MAX)
            return 0;
        FIELD(ctx, OFF_TRACK_N) = n + 1;
    }
    u64 *t = (u64 *)(ctx + TRACK + k * TRACK_BYTES);
    t[0] = slot;
    t[1] = obj;
    t[2] = copy;
    t[3] = objlen;
    return 1;
}

/* Whether the step whose changed watched words are the `n` records at
 * `recs` can be logged without a trap: each is a slot now pointing at
 * nothing or at an object of a type the probe copies (copied to *at), or
 * the reference count of an immutable object. */
static inline __attribute__((always_inline)) u64 loggable(const u8 *ctx, const u8 *recs, u64 n,
                                                          u8 **at, const u8 *end, u64 *ncaps)
{
    if (n && !FIELD(ctx, OFF_CAP_ON))
        return 0;
    /* An object a slot came to point at since the last stop, outside the
     * plan, made again in its place under the same slot. */
    if (FIELD(ctx, OFF_TRACK_N) && tracked_changed(ctx))
        return 0;
    u8 *caps = *at;
    u64 loose[LOOSE_MAX];
    u64 nloose = 0;
    for (u64 i = 0; i < n; i++) {
        const u64 *r = (const u64 *)(recs + i * WORD_REC_BYTES);
        if (!bit_of(ctx + SLOT, r[0] / 8))
            continue;
        if (r[2] == 0) {
            track((u8 *)ctx, r[0], 0, 0, 0);
            continue;
        }
        u8 *c = *at;
        if (!capture(ctx, r[2], at, end))
            return 0;
        *ncaps += 1;
        u64 objlen = ((const u64 *)c)[1] >> 32;
        if (watched_obj(ctx, r[2], objlen))
            track((u8 *)ctx, r[0], 0, 0, 0);
        else if (!track((u8 *)ctx, r[0], r[2], (u64)(c + CAP_HDR_BYTES - ctx), objlen))
            return 0;
    }
    for (u64 i = 0; i < n; i++) {
        const u64 *r = (const u64 *)(recs + i * WORD_REC_BYTES);
        u64 w = r[0] / 8;
        if (bit_of(ctx + SLOT, w))
            continue;
        /* A word of immutable objects: their reference counts may change
         * without a trap (what the tracer shows does not depend on them;
         * a word is taken for one when the word after it, in the same
         * chunk, is a pointer to one of their types), and so may the bytes
         * of one a slot came to point at in this step (freed, and another
         * made in its place, whose copy the tracer reads), and those of one
         * freed that nothing watched points at any more. */
        if (!bit_of(ctx + FROZEN, w))
            return 0;
        if ((r[0] % CHUNK) != CHUNK - 8
            && guard_type(ctx, *(const u64 *)(ctx + SHADOW + r[0] + 8)))
            continue;
        if (copied(caps, *at, r[3]))
            continue;
        /* Else the object was freed: no trap unless something the decoders
         * follow points at it now (one made at its address since). */
        if (nloose == LOOSE_MAX)
            return 0;
        loose[nloose++] = r[3];
    }
    if (nloose && pointed_at(ctx, loose, nloose))
        return 0;
    FIELD(ctx, OFF_LOOSE) += nloose;
    return 1;
}

/* The time stamp counter: constant-rate and shared by the cores where the
 * tracer uses it (tracer/src/record/clock.rs converts it to CLOCK_MONOTONIC
 * at each stop); one instruction, where clock_gettime would be a vDSO call
 * the freestanding probe cannot make. */
static inline __attribute__((always_inline)) u64 tsc(void)
{
    u32 lo, hi;
    __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
    return (u64)hi << 32 | lo;
}

/* Events answered without a trap: skip.h. */
#include "skip.h"

/* Refresh the plan and the frame's bytes; 0 when this step goes without a
 * trap (logged, or code the filter says is not recorded), else 1. */
static inline __attribute__((always_inline)) u64 refresh(u8 *ctx, u64 frame, u64 what, u64 chain)
{
    if (frame && filtered_out(ctx, frame)) {
        /* Its lines will never be steps: let CPython skip them, unless the
         * program's own trace function may want them. */
        if ((u32)what == PY_TRACE_CALL && !chain)
            *(volatile u8 *)(frame + FIELD(ctx, OFF_F_TRACE_LINES)) = 0;
        FIELD(ctx, OFF_SKIPPED) += 1;
        return 0;
    }
    if ((u32)what == PY_TRACE_OPCODE && frame && FIELD(ctx, OFF_OPC_ON)
        && !opcode_step(ctx, frame)) {
        /* An instruction that is not a step: nothing to record. */
        FIELD(ctx, OFF_OPC_SKIPPED) += 1;
        return 0;
    }
    /* When the step happened, before the probe's own work for it. */
    u64 now = tsc();
    u64 logged = FIELD(ctx, OFF_LOG_N);
    u64 used = FIELD(ctx, OFF_DLOG_USED);
    /* A new log: the objects copied into the last one are not followed. */
    if (logged == 0)
        FIELD(ctx, OFF_TRACK_N) = 0;
    if (used > DLOG_BYTES / 2) {
        /* Never: a logged entry ends in the log's first half. */
        used = DLOG_BYTES / 2;
        logged = LOG_MAX;
    }
    u64 may_log = frame && frame == FIELD(ctx, OFF_ARMED) && (u32)what == PY_TRACE_LINE
                  && FIELD(ctx, OFF_ARMED_GEN) == FIELD(ctx, OFF_PLAN_GEN)
                  && FIELD(ctx, OFF_BUDGET) > 0 && logged < LOG_MAX
                  && used + ENTRY_HDR < DLOG_BYTES / 2;
    u8 *entry = ctx + DLOG + used;
    /* While steps are logged, what each refresh changes of the watched
     * words is recorded: the tracer rewinds the shadow with it. */
    struct rec rc = {entry + ENTRY_HDR, ctx + DLOG + DLOG_BYTES, ctx, 0, logged || may_log, 0};
    FIELD(ctx, OFF_CUR_N) = 0;
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
                             watch + at / CHUNK, keep, &rc, at);
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
        struct rec none = {0, 0, ctx, 0, 0, 0};
        refresh_range(ctx + FRAME_BUF, (const u8 *)frame, (u32)flen, unused, unwatched, 0, &none,
                      0);
    }
    FIELD(ctx, OFF_FRAME) = frame;
    FIELD(ctx, OFF_FRAME_LEN) = flen;
    FIELD(ctx, OFF_CALLS) += 1;
    u8 *caps = rc.out;
    u64 ncaps = 0;
    if (may_log && !rc.overflow
        && rc.out <= ctx + DLOG + DLOG_BYTES / 2
        && loggable(ctx, entry + ENTRY_HDR, rc.n, &caps, ctx + DLOG + DLOG_BYTES / 2, &ncaps)) {
        /* Both words lie in what was just refreshed: readable. */
        u64 *e = (u64 *)entry;
        e[0] = *(volatile u64 *)FIELD(ctx, OFF_LINE_AT);
        e[1] = *(volatile u64 *)FIELD(ctx, OFF_LINE_AT + 8);
        e[2] = rc.n | ncaps << 32;
        e[3] = (u64)(caps - entry);
        e[4] = now;
        FIELD(ctx, OFF_DLOG_USED) = used + (u64)(caps - entry);
        FIELD(ctx, OFF_CUR_N) = 0;
        /* The entry is whole before it is counted: the tracer reads the
         * entries below the count while this thread runs on (x86 keeps
         * stores in order; this keeps the compiler from moving them). */
        __asm__ volatile("" ::: "memory");
        FIELD(ctx, OFF_LOG_N) = logged + 1;
        FIELD(ctx, OFF_BUDGET) -= 1;
        FIELD(ctx, OFF_KEEP) = 1;
        FIELD(ctx, OFF_TRAPLESS) += 1;
        if (rc.n)
            FIELD(ctx, OFF_DELTAS) += 1;
        return 0;
    }
    FIELD(ctx, OFF_TRAP_TSC) = now;
    FIELD(ctx, OFF_ARMED) = 0;
    FIELD(ctx, OFF_KEEP) = 0;
    /* Words that did not fit in the log were left as they were: the shadow
     * is then not this stop's. */
    FIELD(ctx, OFF_DONE_GEN) = rc.overflow ? ~0ul : FIELD(ctx, OFF_PLAN_GEN);
    return 1;
}

/* The trace function's entry and its stop: trap.h. */
#include "trap.h"
