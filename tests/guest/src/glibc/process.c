/* Process environment: argv (the runner passes fixed arguments), getenv of
 * variables the runner sets with -E (TCGJIT_TEST_VAR, TCGJIT_EMPTY),
 * setenv / unsetenv / putenv, setjmp / longjmp (nested, out of deep
 * recursion, volatile locals kept), sigsetjmp / siglongjmp, time functions
 * only in deterministic ways (clock_gettime succeeds and is monotonic,
 * nanosleep advances it, realtime is after 2020), uname machine, page size,
 * auxiliary vector entries, pid / uid sanity, atexit handlers, a line on
 * stderr, and exit(3) from main. */
#define _GNU_SOURCE
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/time.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static void args(int argc, char **argv)
{
    printf("argc %d\n", argc);
    const char *base = strrchr(argv[0], '/');
    printf("argv[0] basename %s\n", base ? base + 1 : argv[0]);
    for (int i = 1; i < argc; i++)
        printf("argv[%d] = \"%s\" (%zu bytes)\n", i, argv[i], strlen(argv[i]));
    printf("argv[argc] is NULL: %d\n", argv[argc] == NULL);
    /* argv strings and environ live above argv[]: check the layout loosely */
    printf("argv strings after the pointer array: %d\n",
           argc < 2 || (uintptr_t)argv[1] > (uintptr_t)&argv[argc]);
}

static void env(void)
{
    const char *v = getenv("TCGJIT_TEST_VAR");
    printf("TCGJIT_TEST_VAR = %s%s%s\n", v ? "\"" : "", v ? v : "(unset)", v ? "\"" : "");
    v = getenv("TCGJIT_EMPTY");
    printf("TCGJIT_EMPTY set %d length %zu\n", v != NULL, v ? strlen(v) : 0);
    printf("TCGJIT_NOT_SET set %d\n", getenv("TCGJIT_NOT_SET") != NULL);
    int seen = 0;
    for (char **e = environ; *e; e++)
        if (!strncmp(*e, "TCGJIT_TEST_VAR=", 16))
            seen++;
    printf("TCGJIT_TEST_VAR in environ: %d\n", seen);
    setenv("TCGJIT_NEW", "one", 0);
    setenv("TCGJIT_NEW", "two", 0);
    printf("setenv no-overwrite: %s\n", getenv("TCGJIT_NEW"));
    setenv("TCGJIT_NEW", "three", 1);
    printf("setenv overwrite: %s\n", getenv("TCGJIT_NEW"));
    static char put[] = "TCGJIT_PUT=via putenv";
    putenv(put);
    printf("putenv: %s\n", getenv("TCGJIT_PUT"));
    unsetenv("TCGJIT_NEW");
    unsetenv("TCGJIT_TEST_VAR");
    printf("after unsetenv: %d %d\n", getenv("TCGJIT_NEW") != NULL, getenv("TCGJIT_TEST_VAR") != NULL);
    printf("clearenv: %d, then getenv(TCGJIT_PUT) set %d\n", clearenv(), getenv("TCGJIT_PUT") != NULL);
}

static jmp_buf jb;
static int depth_reached;
static volatile int jump_depth = 500;

static int recurse(int depth)
{
    volatile char pad[64];
    pad[0] = (char)depth;
    depth_reached = depth;
    if (depth >= jump_depth)
        longjmp(jb, depth);
    if (depth > 100000)
        return 0;
    return recurse(depth + 1) + pad[0];
}

static void jumps(void)
{
    volatile int counter = 0;
    volatile double fv = 1.5;
    int r = setjmp(jb);
    counter++;
    fv *= 2.0;
    if (r < 3) {
        printf("setjmp returned %d (counter %d, fv %g)\n", r, counter, fv);
        longjmp(jb, r + 1);
    }
    printf("setjmp returned %d after jumps, counter %d fv %g\n", r, counter, fv);
    r = setjmp(jb);
    if (r == 0)
        recurse(0);
    printf("longjmp out of recursion depth %d returned %d\n", depth_reached, r);
    r = setjmp(jb);
    if (r == 0)
        longjmp(jb, 0);
    printf("longjmp(jb, 0) makes setjmp return %d\n", r);

    /* nested buffers */
    jmp_buf outer, inner;
    volatile int stage = 0;
    if (setjmp(outer) == 0) {
        stage = 1;
        if (setjmp(inner) == 0) {
            stage = 2;
            longjmp(inner, 7);
        }
        stage = 3;
        longjmp(outer, 9);
    }
    printf("nested setjmp stage %d\n", stage);

    sigjmp_buf sj;
    sigset_t set, now;
    sigemptyset(&set);
    sigaddset(&set, SIGUSR1);
    int v = sigsetjmp(sj, 1);
    if (v == 0) {
        sigprocmask(SIG_BLOCK, &set, NULL);
        sigprocmask(SIG_BLOCK, NULL, &now);
        printf("SIGUSR1 blocked before siglongjmp: %d\n", sigismember(&now, SIGUSR1));
        siglongjmp(sj, 5);
    }
    sigprocmask(SIG_BLOCK, NULL, &now);
    printf("sigsetjmp returned %d, mask restored (SIGUSR1 blocked %d)\n", v,
           sigismember(&now, SIGUSR1));
}

static int64_t ns(const struct timespec *t) { return (int64_t)t->tv_sec * 1000000000 + t->tv_nsec; }

static void times(void)
{
    struct timespec a, b, c, r;
    int ok = clock_gettime(CLOCK_MONOTONIC, &a) == 0;
    int monotonic = 1;
    for (int i = 0; i < 1000; i++) {
        ok &= clock_gettime(CLOCK_MONOTONIC, &b) == 0;
        monotonic &= ns(&b) >= ns(&a);
        a = b;
    }
    printf("clock_gettime(MONOTONIC) ok %d monotonic %d nsec in range %d\n", ok, monotonic,
           b.tv_nsec >= 0 && b.tv_nsec < 1000000000);
    struct timespec req = {0, 2000000};
    clock_gettime(CLOCK_MONOTONIC, &a);
    int slept = nanosleep(&req, NULL);
    clock_gettime(CLOCK_MONOTONIC, &c);
    printf("nanosleep(2 ms) %d, monotonic advanced >= 2 ms: %d\n", slept, ns(&c) - ns(&a) >= 2000000);
    clock_gettime(CLOCK_REALTIME, &r);
    time_t t = time(NULL);
    struct timeval tv;
    gettimeofday(&tv, NULL);
    printf("realtime after 2020: %d, time() within 2 s of it: %d, gettimeofday too: %d\n",
           r.tv_sec > 1577836800, t - r.tv_sec >= 0 && t - r.tv_sec <= 2,
           tv.tv_sec - r.tv_sec >= 0 && tv.tv_sec - r.tv_sec <= 2);
    struct timespec res;
    printf("clock_getres(MONOTONIC) ok %d, <= 1 ms %d\n", clock_getres(CLOCK_MONOTONIC, &res) == 0,
           res.tv_sec == 0 && res.tv_nsec <= 1000000);
    printf("CLOCK_PROCESS_CPUTIME_ID ok %d, clock() >= 0 %d\n",
           clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &a) == 0, clock() >= 0);
    struct tm tm;
    time_t fixed = 1000000000;
    gmtime_r(&fixed, &tm);
    char buf[64];
    strftime(buf, sizeof(buf), "%Y-%m-%d %H:%M:%S %a %j", &tm);
    printf("gmtime(1e9) %s, timegm back %lld\n", buf, (long long)timegm(&tm));
}

static void system_info(void)
{
    struct utsname u;
    printf("uname ok %d machine %s sysname %s\n", uname(&u) == 0, u.machine, u.sysname);
    printf("sysconf(_SC_PAGESIZE) %ld getpagesize %d\n", sysconf(_SC_PAGESIZE), getpagesize());
    printf("getauxval AT_PAGESZ %lu AT_HWCAP %#lx AT_RANDOM set %d AT_PHDR set %d AT_ENTRY set %d"
           " AT_SECURE %lu\n",
           getauxval(AT_PAGESZ), getauxval(AT_HWCAP), getauxval(AT_RANDOM) != 0,
           getauxval(AT_PHDR) != 0, getauxval(AT_ENTRY) != 0, getauxval(AT_SECURE));
    printf("AT_UID matches getuid %d, AT_EGID matches getegid %d\n",
           getauxval(AT_UID) == (unsigned long)getuid(), getauxval(AT_EGID) == (unsigned long)getegid());
    printf("getpid > 0 %d, getppid > 0 %d, getpid stable %d\n", getpid() > 0, getppid() > 0,
           getpid() == getpid());
    char host[256];
    printf("gethostname ok %d\n", gethostname(host, sizeof(host)) == 0);
}

static void bye1(void) { printf("atexit handler 1 (runs last)\n"); }
static void bye2(void) { printf("atexit handler 2 (runs first)\n"); }

int main(int argc, char **argv)
{
    args(argc, argv);
    env();
    jumps();
    times();
    system_info();
    atexit(bye1);
    atexit(bye2);
    fprintf(stderr, "process: a line on stderr\n");
    printf("exiting with status 3\n");
    exit(3);
}
