/* The start-up measurement: a glibc static hello world (tools/bench.py times it under tcgjit). */
#include <stdio.h>

int main(void)
{
    printf("hello, world\n");
    return 0;
}
