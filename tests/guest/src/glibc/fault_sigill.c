/* Prints (through stdio, flushed), then executes a 32-bit word with a
 * reserved major opcode (0x6b, "custom"/reserved in RV64GC): the guest is
 * killed by SIGILL (shell status 132). */
#include <stdio.h>

int main(void)
{
    printf("before the illegal instruction\n");
    fflush(stdout);
    __asm__ volatile(".4byte 0x0000006b");
    printf("not reached\n");
    return 0;
}
