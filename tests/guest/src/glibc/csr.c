/* User-level CSRs: fflags / frm / fcsr through every access form (csrrw
 * csrrs csrrc and the immediate forms, the frflags/fsflags/frrm/fsrm/frcsr/
 * fscsr pseudo-instructions, rd = x0 and rs1 = x0 variants), masking of
 * the fields (fflags 5 bits, frm 3 bits, fcsr 8 bits), accrual of flags
 * over several instructions, fcsr = frm << 5 | fflags; the counters cycle,
 * time and instret are readable (rdcycle rdtime rdinstret) and do not go
 * backwards, and instret grows across a loop (values are never printed). */
#include <stdint.h>
#include <stdio.h>

#define CSR_READ(name)                                                          \
    ({                                                                          \
        uint64_t v_;                                                            \
        __asm__ volatile("csrr %0, " #name : "=r"(v_));                         \
        v_;                                                                     \
    })

static void show(const char *what)
{
    printf("%-44s fflags %02llx frm %llx fcsr %03llx\n", what, (unsigned long long)CSR_READ(fflags),
           (unsigned long long)CSR_READ(frm), (unsigned long long)CSR_READ(fcsr));
}

static void fp_csrs(void)
{
    uint64_t old;
    show("initial");
    __asm__ volatile("csrw fcsr, %0" : : "r"(0xffffffffffffffffULL));
    show("csrw fcsr, -1 (masked to 8 bits)");
    __asm__ volatile("csrw fcsr, zero");
    show("csrw fcsr, 0");
    __asm__ volatile("csrrw %0, fflags, %1" : "=r"(old) : "r"(0x3fL));
    printf("csrrw fflags, 0x3f: old %llx\n", (unsigned long long)old);
    show("  after");
    __asm__ volatile("csrrc %0, fflags, %1" : "=r"(old) : "r"(0x05L));
    printf("csrrc fflags, 0x05: old %llx\n", (unsigned long long)old);
    show("  after");
    __asm__ volatile("csrrs %0, fflags, zero" : "=r"(old));
    printf("csrrs fflags, zero (read only): %llx\n", (unsigned long long)old);
    __asm__ volatile("csrrwi %0, frm, 3" : "=r"(old));
    printf("csrrwi frm, 3: old %llx\n", (unsigned long long)old);
    show("  after");
    __asm__ volatile("csrrsi %0, frm, 4" : "=r"(old));
    printf("csrrsi frm, 4: old %llx\n", (unsigned long long)old);
    show("  after (frm 7 is only illegal when used)");
    __asm__ volatile("csrrci %0, frm, 6" : "=r"(old));
    printf("csrrci frm, 6: old %llx\n", (unsigned long long)old);
    show("  after");
    __asm__ volatile("csrw frm, %0" : : "r"(0xfaL));
    show("csrw frm, 0xfa (masked to 3 bits)");
    __asm__ volatile("csrrsi zero, fflags, 0x10");
    show("csrrsi zero, fflags, 0x10 (rd = x0)");
    __asm__ volatile("csrrci zero, fcsr, 0x1f");
    show("csrrci zero, fcsr, 0x1f");
    __asm__ volatile("csrrw zero, fcsr, %0" : : "r"(0x1e5L));
    show("csrrw zero, fcsr, 0x1e5");
    __asm__ volatile("fsflagsi %0, 0x0a" : "=r"(old));
    printf("fsflagsi 0x0a: old %llx\n", (unsigned long long)old);
    __asm__ volatile("fsrmi %0, 1" : "=r"(old));
    printf("fsrmi 1: old %llx\n", (unsigned long long)old);
    __asm__ volatile("frcsr %0" : "=r"(old));
    printf("frcsr %llx\n", (unsigned long long)old);
    __asm__ volatile("fscsr %0, %1" : "=r"(old) : "r"(0x80L));
    printf("fscsr 0x80: old %llx\n", (unsigned long long)old);
    show("  after");
    __asm__ volatile("fsflags zero\n\tfsrm zero");

    /* accrual: flags from several instructions add up until cleared */
    double d;
    float f;
    __asm__ volatile("fsflags zero");
    __asm__ volatile("fdiv.d %0, %1, %2" : "=f"(d) : "f"(1.0), "f"(3.0));
    show("after 1.0/3.0 (NX)");
    __asm__ volatile("fdiv.d %0, %1, %2" : "=f"(d) : "f"(1.0), "f"(0.0));
    show("then 1.0/0.0 (DZ accrues)");
    __asm__ volatile("fmul.s %0, %1, %2" : "=f"(f) : "f"(3e38f), "f"(10.0f));
    show("then 3e38f*10 (OF NX)");
    __asm__ volatile("fmul.d %0, %1, %2" : "=f"(d) : "f"(1e-300), "f"(1e-300));
    show("then 1e-300*1e-300 (UF NX)");
    __asm__ volatile("fsqrt.d %0, %1" : "=f"(d) : "f"(-1.0));
    show("then sqrt(-1) (NV)");
    __asm__ volatile("fadd.d %0, %1, %2" : "=f"(d) : "f"(1.0), "f"(2.0));
    show("then 1+2 (exact: nothing new)");
    __asm__ volatile("csrw fflags, zero");
    __asm__ volatile("fcvt.w.d %0, %1, rtz" : "=r"(old) : "f"(1e20));
    show("fcvt.w.d 1e20 (NV only)");
    __asm__ volatile("csrw fflags, zero");
    __asm__ volatile("feq.d %0, %1, %2" : "=r"(old) : "f"(__builtin_nan("")), "f"(1.0));
    show("feq.d qNaN (quiet: no flag)");
    __asm__ volatile("flt.d %0, %1, %2" : "=r"(old) : "f"(__builtin_nan("")), "f"(1.0));
    show("flt.d qNaN (signalling compare: NV)");
    __asm__ volatile("csrw fflags, zero");
    /* dynamic rounding through frm */
    static const char *const modes[] = {"rne", "rtz", "rdn", "rup", "rmm"};
    for (int m = 0; m < 5; m++) {
        int64_t r1, r2;
        double q;
        __asm__ volatile("fsrm %0" : : "r"((long)m));
        __asm__ volatile("fcvt.l.d %0, %1" : "=r"(r1) : "f"(-2.5));
        __asm__ volatile("fcvt.l.d %0, %1" : "=r"(r2) : "f"(2.5));
        __asm__ volatile("fdiv.d %0, %1, %2" : "=f"(q) : "f"(-1.0), "f"(3.0));
        printf("frm=%s: fcvt.l.d(-2.5) %lld fcvt.l.d(2.5) %lld -1/3 %a\n", modes[m], (long long)r1,
               (long long)r2, q);
    }
    __asm__ volatile("fscsr zero");
    show("final");
}

static void counters(void)
{
    uint64_t c0, c1, t0, t1, i0, i1;
    __asm__ volatile("rdcycle %0" : "=r"(c0));
    __asm__ volatile("rdtime %0" : "=r"(t0));
    __asm__ volatile("rdinstret %0" : "=r"(i0));
    volatile uint64_t sink = 0;
    for (int k = 0; k < 100000; k++)
        sink += (uint64_t)k;
    __asm__ volatile("rdinstret %0" : "=r"(i1));
    __asm__ volatile("rdtime %0" : "=r"(t1));
    __asm__ volatile("rdcycle %0" : "=r"(c1));
    printf("rdcycle readable, not decreasing: %d\n", c1 >= c0);
    printf("rdtime readable, not decreasing: %d\n", t1 >= t0);
    printf("rdinstret grew across a 100000-iteration loop: %d\n", i1 > i0);
    uint64_t a = CSR_READ(cycle), b = CSR_READ(time), c = CSR_READ(instret);
    printf("csrr cycle/time/instret agree in direction: %d %d %d\n", a >= c1, b >= t1, c >= i1);
    (void)sink;
}

int main(void)
{
    fp_csrs();
    counters();
    return 0;
}
