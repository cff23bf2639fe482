/* File I/O in a fresh temporary directory under /tmp (mkdtemp): stdio
 * (fopen fwrite fread fseek ftell fgets fprintf fscanf ungetc freopen-free
 * append mode), POSIX I/O (open read write lseek pread pwrite dup dup2
 * ftruncate fsync fcntl), stat / fstat / lstat, rename, link, symlink /
 * readlink, access, mkdir, opendir / readdir (names sorted), chdir +
 * relative paths, unlink, rmdir. Only deterministic facts are printed (no
 * directory name, inode numbers, times or link counts of directories). */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

static char dir[64];

static const char *at(const char *name)
{
    static char path[4][128];
    static int k;
    k = (k + 1) % 4;
    snprintf(path[k], sizeof(path[k]), "%s/%s", dir, name);
    return path[k];
}

static int cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void list_dir(const char *path)
{
    DIR *d = opendir(path);
    if (!d) {
        printf("opendir failed: %s\n", strerror(errno));
        return;
    }
    char *names[64];
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) && n < 64)
        names[n++] = strdup(e->d_name);
    closedir(d);
    qsort(names, (size_t)n, sizeof(char *), cmp);
    printf("listing (%d):", n);
    for (int i = 0; i < n; i++) {
        struct stat st;
        char kind = '?';
        if (lstat(at(names[i]), &st) == 0)
            kind = S_ISDIR(st.st_mode) ? 'd' : S_ISLNK(st.st_mode) ? 'l' : S_ISREG(st.st_mode) ? 'f' : 'o';
        if (!strcmp(names[i], ".") || !strcmp(names[i], ".."))
            kind = 'd';
        printf(" %s(%c)", names[i], kind);
        free(names[i]);
    }
    printf("\n");
}

static void show_stat(const char *label, const char *path)
{
    struct stat st;
    if (stat(path, &st) != 0) {
        printf("stat %s: %s\n", label, strerror(errno));
        return;
    }
    /* the size of a directory depends on the file system: files only */
    printf("stat %s: size %lld mode %o reg %d dir %d\n", label,
           S_ISREG(st.st_mode) ? (long long)st.st_size : -1LL, (unsigned)(st.st_mode & 07777),
           S_ISREG(st.st_mode), S_ISDIR(st.st_mode));
}

static void stdio_part(void)
{
    FILE *f = fopen(at("data.txt"), "w");
    printf("fopen w: %s\n", f ? "ok" : strerror(errno));
    for (int i = 0; i < 100; i++)
        fprintf(f, "line %03d %s\n", i, i % 2 ? "odd" : "even");
    printf("ftell after writing: %ld\n", ftell(f));
    fclose(f);
    show_stat("data.txt", at("data.txt"));

    f = fopen(at("data.txt"), "r");
    char line[64];
    fgets(line, sizeof(line), f);
    printf("first line: %s", line);
    fseek(f, -13, SEEK_END);
    fgets(line, sizeof(line), f);
    printf("fseek(-13, END): %s", line);
    fseek(f, 5 * 14 + 5 * 13, SEEK_SET); /* start of line 10 */
    int num = -1;
    char word[8] = "";
    int got = fscanf(f, "line %d %7s", &num, word);
    printf("fscanf after fseek(135): %d %d %s, ftell %ld\n", got, num, word, ftell(f));
    int c = fgetc(f);
    ungetc('#', f);
    printf("fgetc %d, ungetc then fgetc %c\n", c, fgetc(f));
    rewind(f);
    long lines = 0;
    while (fgets(line, sizeof(line), f))
        lines++;
    printf("lines %ld feof %d ferror %d\n", lines, feof(f) != 0, ferror(f) != 0);
    fclose(f);

    /* binary fwrite / fread with a big buffer (several stdio buffers) */
    enum { N = 50000 };
    unsigned *buf = malloc(N * sizeof(unsigned));
    for (unsigned i = 0; i < N; i++)
        buf[i] = i * 2654435761u;
    f = fopen(at("data.bin"), "wb+");
    size_t w = fwrite(buf, sizeof(unsigned), N, f);
    fseek(f, 4000 * (long)sizeof(unsigned), SEEK_SET);
    unsigned v[3];
    size_t r = fread(v, sizeof(unsigned), 3, f);
    printf("fwrite %zu, fread %zu: %u %u %u (ok %d)\n", w, r, v[0], v[1], v[2],
           v[0] == 4000u * 2654435761u && v[2] == 4002u * 2654435761u);
    fseek(f, 0, SEEK_END);
    printf("size by ftell %ld\n", ftell(f));
    fseek(f, 0, SEEK_SET);
    memset(buf, 0, N * sizeof(unsigned));
    r = fread(buf, sizeof(unsigned), N + 10, f);
    unsigned bad = 0;
    for (unsigned i = 0; i < N; i++)
        bad += buf[i] != i * 2654435761u;
    printf("fread all: %zu items, %u bad, feof %d\n", r, bad, feof(f) != 0);
    fclose(f);
    free(buf);

    f = fopen(at("data.txt"), "a");
    fputs("appended\n", f);
    fclose(f);
    show_stat("data.txt after append", at("data.txt"));
    f = fopen(at("missing/none.txt"), "r");
    printf("fopen of a missing file: %s errno %s\n", f ? "opened?!" : "NULL",
           errno == ENOENT ? "ENOENT" : "other");
}

static void posix_part(void)
{
    int fd = open(at("posix.bin"), O_CREAT | O_RDWR | O_TRUNC, 0640);
    printf("open: %s\n", fd >= 0 ? "ok" : strerror(errno));
    const char msg[] = "0123456789abcdefghijklmnopqrstuvwxyz";
    ssize_t n = write(fd, msg, sizeof(msg) - 1);
    off_t pos = lseek(fd, 0, SEEK_CUR);
    printf("write %zd, lseek(0, CUR) %lld\n", n, (long long)pos);
    char b[16] = {0};
    n = pread(fd, b, 5, 10);
    printf("pread(5 @ 10) %zd \"%s\", offset still %lld\n", n, b, (long long)lseek(fd, 0, SEEK_CUR));
    n = pwrite(fd, "XYZ", 3, 2);
    lseek(fd, 0, SEEK_SET);
    memset(b, 0, sizeof(b));
    n = read(fd, b, 8);
    printf("pwrite then read %zd \"%s\"\n", n, b);
    off_t end = lseek(fd, 100, SEEK_END);
    n = write(fd, "!", 1);
    struct stat st;
    fstat(fd, &st);
    printf("lseek past end %lld, write %zd, fstat size %lld\n", (long long)end, n, (long long)st.st_size);
    lseek(fd, 40, SEEK_SET);
    memset(b, 'q', sizeof(b));
    n = read(fd, b, 8);
    printf("read from the hole %zd: %d %d %d\n", n, b[0], b[3], b[7]);
    ftruncate(fd, 20);
    fsync(fd);
    fstat(fd, &st);
    printf("ftruncate(20): size %lld mode %o\n", (long long)st.st_size, (unsigned)(st.st_mode & 0777));
    int fd2 = dup(fd);
    lseek(fd, 3, SEEK_SET);
    printf("dup shares the offset: %lld\n", (long long)lseek(fd2, 0, SEEK_CUR));
    int fd3 = dup2(fd, 100);
    printf("dup2 -> %d, F_GETFD %d\n", fd3, fcntl(fd3, F_GETFD));
    fcntl(fd3, F_SETFD, FD_CLOEXEC);
    printf("after F_SETFD: %d, flags accmode rdwr %d\n", fcntl(fd3, F_GETFD),
           (fcntl(fd3, F_GETFL) & O_ACCMODE) == O_RDWR);
    close(fd3);
    close(fd2);
    close(fd);
    n = read(fd, b, 1);
    printf("read from a closed fd: %zd errno %s\n", n, errno == EBADF ? "EBADF" : "other");
    fd = open(at("posix.bin"), O_CREAT | O_EXCL | O_WRONLY, 0600);
    printf("O_EXCL on existing: %d errno %s\n", fd, errno == EEXIST ? "EEXIST" : "other");
}

static void fs_part(void)
{
    printf("mkdir sub: %d\n", mkdir(at("sub"), 0750));
    printf("mkdir sub again: %d errno %s\n", mkdir(at("sub"), 0750),
           errno == EEXIST ? "EEXIST" : "other");
    show_stat("sub", at("sub"));
    printf("rename: %d\n", rename(at("posix.bin"), at("sub/moved.bin")));
    printf("access moved R_OK %d W_OK %d X_OK %d, old name F_OK %d\n",
           access(at("sub/moved.bin"), R_OK), access(at("sub/moved.bin"), W_OK),
           access(at("sub/moved.bin"), X_OK) == 0, access(at("posix.bin"), F_OK));
    printf("link: %d\n", link(at("data.txt"), at("hard.txt")));
    struct stat a, b;
    stat(at("data.txt"), &a);
    stat(at("hard.txt"), &b);
    printf("hard link: same inode %d nlink %ld\n", a.st_ino == b.st_ino, (long)a.st_nlink);
    printf("symlink: %d\n", symlink("data.txt", at("soft.txt")));
    char target[64];
    ssize_t n = readlink(at("soft.txt"), target, sizeof(target) - 1);
    target[n > 0 ? n : 0] = 0;
    struct stat l;
    lstat(at("soft.txt"), &l);
    printf("readlink %zd \"%s\" lstat is link %d, stat size %lld\n", n, target, S_ISLNK(l.st_mode),
           (long long)(stat(at("soft.txt"), &b) == 0 ? b.st_size : -1));
    list_dir(dir);

    char cwd[256];
    int saved = open(".", O_RDONLY | O_DIRECTORY);
    printf("chdir: %d\n", chdir(dir));
    printf("getcwd ends with the dir name: %d\n",
           getcwd(cwd, sizeof(cwd)) && !strcmp(strrchr(cwd, '/'), strrchr(dir, '/')));
    FILE *f = fopen("sub/relative.txt", "w");
    fputs("via a relative path\n", f);
    fclose(f);
    show_stat("sub/relative.txt", "sub/relative.txt");
    int fd = openat(AT_FDCWD, "sub", O_RDONLY | O_DIRECTORY);
    struct stat st;
    printf("fstatat: %d size %lld\n", fstatat(fd, "relative.txt", &st, 0), (long long)st.st_size);
    printf("unlinkat: %d\n", unlinkat(fd, "relative.txt", 0));
    close(fd);
    fchdir(saved);
    close(saved);

    printf("rmdir non-empty: %d errno %s\n", rmdir(at("sub")), errno == ENOTEMPTY ? "ENOTEMPTY" : "other");
    printf("unlink: %d %d %d %d %d\n", unlink(at("sub/moved.bin")), unlink(at("data.txt")),
           unlink(at("hard.txt")), unlink(at("soft.txt")), unlink(at("data.bin")));
    printf("unlink missing: %d errno %s\n", unlink(at("data.txt")), errno == ENOENT ? "ENOENT" : "other");
    printf("rmdir sub: %d\n", rmdir(at("sub")));
    list_dir(dir);
    printf("rmdir dir: %d\n", rmdir(dir));
    struct stat gone;
    printf("stat after rmdir: %d errno %s\n", stat(dir, &gone), errno == ENOENT ? "ENOENT" : "other");
}

int main(void)
{
    umask(022);
    strcpy(dir, "/tmp/tcgjit-fileio-XXXXXX");
    if (!mkdtemp(dir)) {
        printf("mkdtemp failed: %s\n", strerror(errno));
        return 1;
    }
    printf("mkdtemp ok, name length %zu\n", strlen(dir));
    show_stat("dir", dir);
    stdio_part();
    posix_part();
    fs_part();
    return 0;
}
