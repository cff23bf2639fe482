/* Prints argc and the arguments after argv[0] (argv[0] depends on how the
 * program was started, so it is only checked for being non-empty). */
#include "rt.h"

int main(int argc, char **argv, char **envp)
{
    (void)envp;
    show_dec("argc", argc);
    show_dec("argv[0] non-empty", argv[0] && argv[0][0] != 0);
    for (int i = 1; i < argc; i++) {
        put_str("argv[");
        put_udec((u64)i);
        put_str("] = \"");
        put_str(argv[i]);
        put_str("\" len ");
        put_udec(strlen(argv[i]));
        put_nl();
    }
    show_dec("argv[argc] is NULL", argv[argc] == NULL);
    return argc;
}
