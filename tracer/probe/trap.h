/* The probe's trace function: its entry (asm), the call of the refresh
 * (probe.c), the stop for the tracer, and the tail call of the program's
 * own trace function. Included at the end of probe.c: one translation
 * unit, no relocations. */

/* The program's own trace function for the trace object `obj` (what it
 * passed to sys.settrace or PyEval_SetTrace, which the tracer turned into
 * the probe with that object), 0 for none. */
static inline __attribute__((always_inline)) u64 chained(const u8 *ctx, u64 obj)
{
    if (!obj)
        return 0;
    const volatile u64 *c = (const volatile u64 *)(ctx + CHAINS);
    for (u64 i = 0; i < CHAINS_MAX; i++)
        if (c[2 * i] == obj)
            return c[2 * i + 1];
    return 0;
}

/* A system call of up to four arguments (freestanding: no libc). */
static inline __attribute__((always_inline)) long sys4(long nr, u64 a, u64 b, u64 c, u64 d)
{
    register u64 r10 __asm__("r10") = d;
    long ret;
    __asm__ volatile("syscall"
                     : "=a"(ret)
                     : "a"(nr), "D"(a), "S"(b), "d"(c), "r"(r10)
                     : "rcx", "r11", "memory");
    return ret;
}

/* How this thread stops for the tracer: the signal in `OFF_TRAP_SIG`,
 * unless the thread blocks it (it would stay pending and never stop the
 * thread), else the int3. */
static inline __attribute__((always_inline)) u64 trap_kind(const u8 *ctx)
{
    u64 sig = FIELD(ctx, OFF_TRAP_SIG);
    if (sig < 2 || sig > 64)
        return TRAP_INT3;
    u64 blocked = 0;
    if (sys4(SYS_RT_SIGPROCMASK, 0 /* SIG_BLOCK */, 0, (u64)&blocked, 8) != 0)
        return TRAP_INT3;
    return (blocked >> (sig - 1)) & 1 ? TRAP_INT3 : sig;
}

/* What the entry does next: `trap` 0 returns (through `chain`, if any),
 * TRAP_INT3 stops at the int3, another value raises that signal at this
 * thread first. */
struct next {
    u64 trap;
    u64 chain;
};

/* The trace function's work: (ctx, frame, what, arg, obj). The call's
 * event and argument are kept for the tracer (the trap's system calls
 * leave no argument register as CPython passed it). */
static __attribute__((used, noipa)) struct next hs_refresh(u8 *ctx, u64 frame, u64 what, u64 arg,
                                                          u64 obj)
{
    /* First: a fault in the refresh leaves them for the stop. */
    FIELD(ctx, OFF_CALL_FRAME) = frame;
    FIELD(ctx, OFF_WHAT) = what;
    FIELD(ctx, OFF_ARG) = arg;
    u64 chain = chained(ctx, obj);
    FIELD(ctx, OFF_CHAIN_NOW) = chain;
    struct next n = {0, chain};
    if (refresh(ctx, frame, what, chain))
        n.trap = trap_kind(ctx);
    return n;
}

/* The trace function: int (*)(PyObject *, PyFrameObject *, int, PyObject *).
 * Saves what a fault recovery must restore, refreshes the shadow, and
 * stops for the tracer unless the refresh logged the step: by raising the
 * signal hs_refresh names at this thread (tkill; the tracer answers the
 * stop at hs_sigtrap and the signal is never delivered), or at the int3
 * (the nop at hs_trap). A signal whose default is to be ignored (SIGURG)
 * leaves a thread stopped there harmless if hindsight is killed; the int3
 * would kill it. Then it returns through the program's own trace function
 * for this trace object, if any (a tail call with CPython's arguments), or
 * returns 0. The stack: obj, frame, what, arg, then 8 bytes of padding. */
__asm__(
    ".text\n"
    ".globl hs_entry\n"
    "hs_entry:\n"
    "    push %rdi\n"
    "    push %rsi\n"
    "    push %rdx\n"
    "    push %rcx\n"
    "    sub $8, %rsp\n"
    "    mov %rdi, %r8\n"
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
    "    call hs_refresh\n" /* (ctx, frame, what, arg, obj) -> rax: trap, rdx: chain */
    ".globl hs_back\n"
    "hs_back:\n"
    "    test %rax, %rax\n"
    "    jz 2f\n"
    "    cmp $" STR(TRAP_INT3) ", %rax\n"
    "    je hs_trap\n"
    "    mov %rax, %r8\n"
    "    mov $186, %eax\n" /* gettid */
    "    syscall\n"
    "    mov %eax, %edi\n"
    "    mov %r8, %rsi\n"
    "    mov $200, %eax\n" /* tkill(tid, sig): the stop */
    "    syscall\n"
    ".globl hs_sigtrap\n"
    "hs_sigtrap:\n"
    "    jmp 2f\n"
    ".globl hs_trap\n"
    "hs_trap:\n"
    "    nop\n"
    "2:\n"
    "    mov %rdx, %rax\n"
    "    add $8, %rsp\n"
    "    pop %rcx\n"
    "    pop %rdx\n"
    "    pop %rsi\n"
    "    pop %rdi\n"
    "    test %rax, %rax\n"
    "    jz 3f\n"
    "    jmp *%rax\n"
    "3:\n"
    "    xor %eax, %eax\n"
    "    ret\n");
