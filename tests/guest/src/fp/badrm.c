/* Prints, then executes a floating-point instruction with rm = dyn while frm
 * holds the reserved value 5: illegal instruction, killed by SIGILL (shell
 * status 132). Before that, frm = 5 can be written and read back, and
 * static-rm instructions and instructions without rm still work with it. */
#include "fplib.h"

int main(void)
{
    u64 old, r;
    __asm__ volatile("fsrmi %0, 5" : "=r"(old));
    show_hex("old frm", old);
    show_hex("frm now", get_frm());
    __asm__ volatile("fcvt.s.w ft0, %1, rne\n\tfadd.s ft0, ft0, ft0, rtz\n\tfmv.x.w %0, ft0"
                     : "=r"(r) : "r"(21L) : "ft0");
    show_hex("static rm with frm 5: 21+21", r);
    __asm__ volatile("fmv.w.x ft0, %1\n\tfsgnjn.s ft0, ft0, ft0\n\tfmv.x.w %0, ft0"
                     : "=r"(r) : "r"(0x3f800000L) : "ft0");
    show_hex("fneg.s 1.0 with frm 5", r);
    show_hex("fcsr", ({ u64 v; __asm__ volatile("frcsr %0" : "=r"(v)); v; }));
    put_str("fadd.s with rm=dyn and frm=5 next: SIGILL expected\n");
    flush();
    __asm__ volatile("fadd.s ft0, ft0, ft0, dyn" : : : "ft0");
    put_str("not reached\n");
    return 0;
}
