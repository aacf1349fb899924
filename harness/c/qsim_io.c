/* qsim target-side helpers: semihosting file I/O through newlib stdio (librdimon), layer marker. */
#include <stdio.h>

#include "qsim_io.h"

long qsim_read_file(const char *name, void *buf, size_t capacity)
{
    FILE *f = fopen(name, "rb");
    size_t n;
    if (f == NULL) {
        return -1;
    }
    n = fread(buf, 1, capacity, f);
    if (ferror(f)) {
        fclose(f);
        return -1;
    }
    fclose(f);
    return (long)n;
}

int qsim_write_file(const char *name, const void *buf, size_t size)
{
    FILE *f = fopen(name, "wb");
    int ok;
    if (f == NULL) {
        return -1;
    }
    ok = fwrite(buf, 1, size, f) == size;
    ok = (fclose(f) == 0) && ok;
    return ok ? 0 : -1;
}

__attribute__((noinline)) void qsim_layer_mark(void)
{
    __asm__ volatile("" ::: "memory");
}
