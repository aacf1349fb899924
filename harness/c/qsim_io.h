/* qsim target-side helpers for programs run under QEMU: whole-file semihosting I/O (paths are
 * relative to the directory QEMU runs in) and the layer marker the instruction-count plugin
 * watches. */
#ifndef QSIM_IO_H
#define QSIM_IO_H

#include <stddef.h>

/* Read up to `capacity` bytes of `name` into `buf`; returns the byte count, or -1 on error. */
long qsim_read_file(const char *name, void *buf, size_t capacity);

/* Write `size` bytes to `name` (created or truncated); returns 0, or -1 on error. */
int qsim_write_file(const char *name, const void *buf, size_t size);

/* Call before each layer (and once after the last): the insn_count plugin starts a new segment
 * every time this function runs, so segment k holds the instructions of layer k. */
void qsim_layer_mark(void);

#endif /* QSIM_IO_H */
