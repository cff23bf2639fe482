/* Tiny runtime for the freestanding RV64IM C test programs (no libc). */
#ifndef RT_H
#define RT_H

typedef unsigned long size_t;
typedef unsigned long u64;
typedef long i64;
typedef unsigned int u32;
typedef int i32;
typedef unsigned short u16;
typedef short i16;
typedef unsigned char u8;
typedef signed char i8;

#define NULL ((void *)0)
#define INT64_MIN (-0x7fffffffffffffffL - 1)
#define INT64_MAX 0x7fffffffffffffffL
#define INT32_MIN (-0x7fffffff - 1)
#define INT32_MAX 0x7fffffff
#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

long rt_syscall3(long nr, long a0, long a1, long a2);
long rt_write(int fd, const void *buf, size_t len);
void rt_exit(int status) __attribute__((noreturn));

/* buffered stdout (flushed when full and at exit) */
void flush(void);
void put_char(char c);
void put_str(const char *s);
void put_udec(u64 v);
void put_dec(i64 v);
void put_hex(u64 v);            /* 16 digits */
void put_hexn(u64 v, int n);    /* n digits */
void put_nl(void);
/* "label value\n" helpers */
void show_dec(const char *label, i64 v);
void show_hex(const char *label, u64 v);
/* unbuffered write of a string to stderr */
void err_str(const char *s);

void *memcpy(void *dst, const void *src, size_t n);
void *memmove(void *dst, const void *src, size_t n);
void *memset(void *dst, int c, size_t n);
int memcmp(const void *a, const void *b, size_t n);
size_t strlen(const char *s);

/* deterministic pseudo-random numbers (xorshift64*) */
void rng_seed(u64 seed);
u64 rng_next(void);

#endif
