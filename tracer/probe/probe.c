/* The probe: code hindsight places in the target (a shared memory mapping
 * of its own) as the C trace function. Before the step's trap it copies the
 * ranges the tracer will read at this stop (the plan the tracer wrote into
 * the shared context) into the shared shadow, so the tracer reads them there
 * instead of through a process_vm_readv whose cost grows with every page.
 *
 * Freestanding and position independent: no globals, no calls out, no
 * relocations (build.rs refuses any). The context's address is an
 * immediate the tracer patches in at `hs_ctx_imm`.
 *
 * A fault here (a planned page unmapped since the plan was made) stops the
 * thread with SIGSEGV under ptrace before any handler runs; the tracer sets
 * the registers the entry saved in the context back, resumes at `hs_back`,
 * and reads that stop's plan itself. Layout of the context: tracer/src/probe.rs.
 */

typedef unsigned long u64;
typedef unsigned int u32;
typedef unsigned char u8;
typedef u64 __attribute__((aligned(1), may_alias)) u64u;

/* Keep in step with tracer/src/probe.rs. */
#define OFF_PLAN_GEN 0x40
#define OFF_DONE_GEN 0x48
#define OFF_NRANGES 0x50
#define OFF_FRAME 0x58
#define OFF_FRAME_LEN 0x60
#define OFF_CALLS 0x68
#define FRAME_BUF 0x100
#define FRAME_MAX 0x200
#define RANGES 0x1000
#define MAX_RANGES 8192
#define DIRTY (RANGES + MAX_RANGES * 16)
#define SHADOW_BYTES (4u << 20)
#define SHADOW (DIRTY + SHADOW_BYTES / 64)

#define FIELD(c, off) (*(volatile u64 *)((u8 *)(c) + (off)))

struct range {
    u64 addr;
    u32 len;
    u32 at;
};

/* dst = src over len bytes, writing only the 64-byte chunks that differ
 * (unchanged shadow lines stay clean in both processes' caches), and for
 * each chunk whether it changed (dirty[k] for the k-th chunk from dst). */
static inline __attribute__((always_inline)) void refresh_range(u8 *dst, const u8 *src, u32 len,
                                                                u8 *dirty)
{
    u32 i = 0;
    for (; i + 64 <= len; i += 64) {
        const u64u *s = (const u64u *)(src + i);
        u64u *d = (u64u *)(dst + i);
        u64 x = 0;
        for (int w = 0; w < 8; w++)
            x |= s[w] ^ d[w];
        if (x)
            for (int w = 0; w < 8; w++)
                d[w] = s[w];
        *dirty++ = x != 0;
    }
    if (i < len) {
        u8 x = 0;
        for (; i < len; i++) {
            x |= dst[i] ^ src[i];
            dst[i] = src[i];
        }
        *dirty = x != 0;
    }
}

static __attribute__((used, noipa)) void hs_refresh(u8 *ctx, u64 frame)
{
    u64 n = FIELD(ctx, OFF_NRANGES);
    const struct range *r = (const struct range *)(ctx + RANGES);
    u8 *shadow = ctx + SHADOW;
    u8 *dirty = ctx + DIRTY;
    if (n > MAX_RANGES)
        n = MAX_RANGES;
    for (u64 k = 0; k < n; k++) {
        u64 at = r[k].at, len = r[k].len;
        if (at > SHADOW_BYTES || len > SHADOW_BYTES - at || at % 64)
            break;
        refresh_range(shadow + at, (const u8 *)r[k].addr, (u32)len, dirty + at / 64);
    }
    /* The frame object the trace function got (new at a call event). */
    u64 flen = 0;
    if (frame) {
        flen = 4096 - (frame & 4095);
        if (flen > FRAME_MAX)
            flen = FRAME_MAX;
        u8 unused[FRAME_MAX / 64];
        refresh_range(ctx + FRAME_BUF, (const u8 *)frame, (u32)flen, unused);
    }
    FIELD(ctx, OFF_FRAME) = frame;
    FIELD(ctx, OFF_FRAME_LEN) = flen;
    FIELD(ctx, OFF_CALLS) += 1;
    FIELD(ctx, OFF_DONE_GEN) = FIELD(ctx, OFF_PLAN_GEN);
}

/* The trace function: int (*)(PyObject *, PyFrameObject *, int, PyObject *).
 * Keeps its arguments for the tracer (rsi, rdx, rcx at the trap are what
 * CPython passed), saves what a fault recovery must restore, refreshes the
 * shadow, traps, returns 0. The nop at hs_trap becomes the int3. */
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
    "    mov %rsp, 0x00(%rdi)\n"
    "    mov %rbx, 0x08(%rdi)\n"
    "    mov %rbp, 0x10(%rdi)\n"
    "    mov %r12, 0x18(%rdi)\n"
    "    mov %r13, 0x20(%rdi)\n"
    "    mov %r14, 0x28(%rdi)\n"
    "    mov %r15, 0x30(%rdi)\n"
    "    call hs_refresh\n" /* (ctx, frame): rsi is still the frame */
    ".globl hs_back\n"
    "hs_back:\n"
    "    pop %rcx\n"
    "    pop %rdx\n"
    "    pop %rsi\n"
    ".globl hs_trap\n"
    "hs_trap:\n"
    "    nop\n"
    "    xor %eax, %eax\n"
    "    ret\n");
