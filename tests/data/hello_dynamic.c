/* A glibc program linked dynamically: tests/test_dynamic_loading.py loads it with the
   riscv64 sysroot as -L. Prints its arguments, then exits with status 7. */
#include <stdio.h>

int main(int argc, char **argv)
{
    for (int i = 0; i < argc; i++)
        printf("argv[%d] = %s\n", i, argv[i]);
    return 7;
}
