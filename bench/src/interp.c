/* A bytecode interpreter with a switch: a small stack machine running Collatz sequence
 * lengths (with calls and returns) and a sieve of Eratosthenes in its own memory. */
#include <string.h>

#include "bench.h"

enum op {
    OP_HALT, OP_PUSH, OP_POP, OP_DUP, OP_ADD, OP_SUB, OP_MUL, OP_AND, OP_SHR, OP_LT, OP_EQ,
    OP_JMP, OP_JZ, OP_JNZ, OP_LOAD, OP_STORE, OP_LOADM, OP_STOREM, OP_CALL, OP_RET,
};

#define MAX_CODE 512
#define MEM_SIZE 65536

static int64_t code[MAX_CODE];
static int n_code;
static int64_t mem[MEM_SIZE];

static void emit(int64_t v)
{
    code[n_code++] = v;
}

static void emit1(enum op o, int64_t arg)
{
    emit(o);
    emit(arg);
}

/* forward jumps: emit a placeholder, patch it when the label is placed */
static int emit_fwd(enum op o)
{
    emit(o);
    emit(-1);
    return n_code - 1;
}

static void patch(int at)
{
    code[at] = n_code;
}

static int64_t run_from(int start, int64_t *vars)
{
    int64_t stack[256];
    int ret_stack[64];
    int sp = 0, rsp = 0, pc = start;
    for (;;) {
        int64_t a, b;
        switch ((enum op)code[pc++]) {
        case OP_HALT:
            return stack[sp - 1];
        case OP_PUSH:
            stack[sp++] = code[pc++];
            break;
        case OP_POP:
            sp--;
            break;
        case OP_DUP:
            stack[sp] = stack[sp - 1];
            sp++;
            break;
        case OP_ADD:
            b = stack[--sp]; a = stack[sp - 1]; stack[sp - 1] = a + b;
            break;
        case OP_SUB:
            b = stack[--sp]; a = stack[sp - 1]; stack[sp - 1] = a - b;
            break;
        case OP_MUL:
            b = stack[--sp]; a = stack[sp - 1]; stack[sp - 1] = a * b;
            break;
        case OP_AND:
            b = stack[--sp]; a = stack[sp - 1]; stack[sp - 1] = a & b;
            break;
        case OP_SHR:
            b = stack[--sp]; a = stack[sp - 1]; stack[sp - 1] = (int64_t)((uint64_t)a >> b);
            break;
        case OP_LT:
            b = stack[--sp]; a = stack[sp - 1]; stack[sp - 1] = a < b;
            break;
        case OP_EQ:
            b = stack[--sp]; a = stack[sp - 1]; stack[sp - 1] = a == b;
            break;
        case OP_JMP:
            pc = (int)code[pc];
            break;
        case OP_JZ:
            pc = stack[--sp] == 0 ? (int)code[pc] : pc + 1;
            break;
        case OP_JNZ:
            pc = stack[--sp] != 0 ? (int)code[pc] : pc + 1;
            break;
        case OP_LOAD:
            stack[sp++] = vars[code[pc++]];
            break;
        case OP_STORE:
            vars[code[pc++]] = stack[--sp];
            break;
        case OP_LOADM:
            stack[sp - 1] = mem[stack[sp - 1] & (MEM_SIZE - 1)];
            break;
        case OP_STOREM:  /* value addr -- */
            b = stack[--sp]; a = stack[--sp]; mem[b & (MEM_SIZE - 1)] = a;
            break;
        case OP_CALL:
            ret_stack[rsp++] = pc + 1;
            pc = (int)code[pc];
            break;
        case OP_RET:
            pc = ret_stack[--rsp];
            break;
        default:
            printf("bad opcode %lld at %d\n", (long long)code[pc - 1], pc - 1);
            exit(1);
        }
    }
}

/* vars: 0 n, 1 sum, 2 limit, 3 x, 4 steps */
static int build_collatz(void)
{
    int start = n_code;
    emit1(OP_PUSH, 1); emit1(OP_STORE, 0);
    emit1(OP_PUSH, 0); emit1(OP_STORE, 1);
    int loop = n_code;
    emit1(OP_LOAD, 0); emit1(OP_LOAD, 2); emit(OP_LT);
    int to_end = emit_fwd(OP_JZ);
    emit1(OP_LOAD, 0);
    int call = emit_fwd(OP_CALL);
    emit1(OP_LOAD, 1); emit(OP_ADD); emit1(OP_STORE, 1);
    emit1(OP_LOAD, 0); emit1(OP_PUSH, 1); emit(OP_ADD); emit1(OP_STORE, 0);
    emit1(OP_JMP, loop);
    patch(to_end);
    emit1(OP_LOAD, 1); emit(OP_HALT);
    /* collatz: x -- steps */
    patch(call);
    emit1(OP_STORE, 3); emit1(OP_PUSH, 0); emit1(OP_STORE, 4);
    int cl = n_code;
    emit1(OP_LOAD, 3); emit1(OP_PUSH, 1); emit(OP_EQ);
    int done = emit_fwd(OP_JNZ);
    emit1(OP_LOAD, 3); emit1(OP_PUSH, 1); emit(OP_AND);
    int even = emit_fwd(OP_JZ);
    emit1(OP_LOAD, 3); emit1(OP_PUSH, 3); emit(OP_MUL); emit1(OP_PUSH, 1); emit(OP_ADD);
    emit1(OP_STORE, 3);
    int inc = emit_fwd(OP_JMP);
    patch(even);
    emit1(OP_LOAD, 3); emit1(OP_PUSH, 1); emit(OP_SHR); emit1(OP_STORE, 3);
    patch(inc);
    emit1(OP_LOAD, 4); emit1(OP_PUSH, 1); emit(OP_ADD); emit1(OP_STORE, 4);
    emit1(OP_JMP, cl);
    patch(done);
    emit1(OP_LOAD, 4); emit(OP_RET);
    return start;
}

/* vars: 0 i, 1 count, 2 limit, 3 j */
static int build_sieve(void)
{
    int start = n_code;
    emit1(OP_PUSH, 0); emit1(OP_STORE, 1);
    emit1(OP_PUSH, 2); emit1(OP_STORE, 0);
    int outer = n_code;
    emit1(OP_LOAD, 0); emit1(OP_LOAD, 2); emit(OP_LT);
    int to_end = emit_fwd(OP_JZ);
    emit1(OP_LOAD, 0); emit(OP_LOADM);
    int composite = emit_fwd(OP_JNZ);
    emit1(OP_LOAD, 1); emit1(OP_PUSH, 1); emit(OP_ADD); emit1(OP_STORE, 1);
    emit1(OP_LOAD, 0); emit(OP_DUP); emit(OP_MUL); emit1(OP_STORE, 3);
    int inner = n_code;
    emit1(OP_LOAD, 3); emit1(OP_LOAD, 2); emit(OP_LT);
    int inner_end = emit_fwd(OP_JZ);
    emit1(OP_PUSH, 1); emit1(OP_LOAD, 3); emit(OP_STOREM);
    emit1(OP_LOAD, 3); emit1(OP_LOAD, 0); emit(OP_ADD); emit1(OP_STORE, 3);
    emit1(OP_JMP, inner);
    patch(inner_end);
    patch(composite);
    emit1(OP_LOAD, 0); emit1(OP_PUSH, 1); emit(OP_ADD); emit1(OP_STORE, 0);
    emit1(OP_JMP, outer);
    patch(to_end);
    emit1(OP_LOAD, 1); emit(OP_HALT);
    return start;
}

int main(int argc, char **argv)
{
    long scale = bench_scale(argc, argv, 2);
    int collatz = build_collatz();
    int sieve = build_sieve();
    uint64_t sum = 0;
    int64_t vars[8];

    memset(vars, 0, sizeof vars);
    vars[2] = 12000 * scale;
    int64_t steps = run_from(collatz, vars);
    sum = sum * 1000003 + (uint64_t)steps;
    printf("interp collatz below %lld: %lld steps\n", (long long)vars[2], (long long)steps);

    for (long r = 0; r < scale; r++) {
        memset(mem, 0, sizeof mem);
        memset(vars, 0, sizeof vars);
        vars[2] = MEM_SIZE - (int64_t)(r % 32) * 1000;
        int64_t primes = run_from(sieve, vars);
        sum = sum * 1000003 + (uint64_t)primes;
        if (r == 0)
            printf("interp primes below %lld: %lld\n", (long long)vars[2], (long long)primes);
    }
    bench_checksum("interp", sum);
    return 0;
}
