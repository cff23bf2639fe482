/* Prints (through stdio, flushed), then loads through a null pointer: the
 * guest is killed by SIGSEGV (shell status 139) and nothing after the fault
 * is printed. */
#include <stdio.h>

int main(void)
{
    int *volatile p = NULL;
    printf("before the null dereference\n");
    fprintf(stderr, "stderr before the fault\n");
    fflush(stdout);
    printf("value %d\n", *p);
    printf("not reached\n");
    return 0;
}
