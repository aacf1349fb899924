/* qsim QEMU TCG plugin: count executed guest instructions, in total, per layer segment and per
 * function symbol.
 *
 * Arguments (-plugin libinsn_count.so,out=FILE[,mark=0xADDR]):
 *   out   file to write at exit (required)
 *   mark  address of qsim_layer_mark (harness/c/qsim_io.c); every execution of its first
 *         instruction records the running total, so the harness gets per-layer counts as
 *         differences between consecutive marks.
 * Output lines: "total N", "mark K N" (running total at the K-th mark), "sym NAME N" (instructions
 * executed inside each function symbol, from QEMU's view of the ELF symbol table).
 *
 * Counting is done with a callback per executed translation block, which adds the block's
 * instruction count (and per-symbol shares). A block left early by an exception or a semihosting
 * call is still counted whole: counts can exceed the truth by a few instructions per such exit.
 *
 * Debian's QEMU 7.2 ships the plugin-enabled binary but no qemu-plugin.h, so the few declarations
 * used are written out below from QEMU's documented stable plugin API (docs/devel/tcg-plugins);
 * when a real header is given (-DQSIM_HAVE_QEMU_PLUGIN_H) it is used instead.
 */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef QSIM_HAVE_QEMU_PLUGIN_H
#include <qemu-plugin.h>
#else
#include <stdbool.h>
#include <stddef.h>
#define QEMU_PLUGIN_EXPORT __attribute__((visibility("default")))
#ifndef QEMU_PLUGIN_VERSION
#define QEMU_PLUGIN_VERSION 1           /* QEMU 7.2 accepts versions 0..1 */
#endif
typedef uint64_t qemu_plugin_id_t;
typedef struct qemu_info_t qemu_info_t; /* only passed through */
struct qemu_plugin_tb;
struct qemu_plugin_insn;
enum qemu_plugin_cb_flags { QEMU_PLUGIN_CB_NO_REGS, QEMU_PLUGIN_CB_R_REGS, QEMU_PLUGIN_CB_RW_REGS };
typedef void (*qemu_plugin_udata_cb_t)(qemu_plugin_id_t id, void *userdata);
typedef void (*qemu_plugin_vcpu_udata_cb_t)(unsigned int vcpu_index, void *userdata);
typedef void (*qemu_plugin_vcpu_tb_trans_cb_t)(qemu_plugin_id_t id, struct qemu_plugin_tb *tb);
void qemu_plugin_register_vcpu_tb_trans_cb(qemu_plugin_id_t id, qemu_plugin_vcpu_tb_trans_cb_t cb);
void qemu_plugin_register_vcpu_tb_exec_cb(struct qemu_plugin_tb *tb, qemu_plugin_vcpu_udata_cb_t cb,
                                          enum qemu_plugin_cb_flags flags, void *userdata);
void qemu_plugin_register_vcpu_insn_exec_cb(struct qemu_plugin_insn *insn, qemu_plugin_vcpu_udata_cb_t cb,
                                            enum qemu_plugin_cb_flags flags, void *userdata);
void qemu_plugin_register_atexit_cb(qemu_plugin_id_t id, qemu_plugin_udata_cb_t cb, void *userdata);
size_t qemu_plugin_tb_n_insns(const struct qemu_plugin_tb *tb);
struct qemu_plugin_insn *qemu_plugin_tb_get_insn(const struct qemu_plugin_tb *tb, size_t idx);
uint64_t qemu_plugin_insn_vaddr(const struct qemu_plugin_insn *insn);
const char *qemu_plugin_insn_symbol(const struct qemu_plugin_insn *insn);
void qemu_plugin_outs(const char *string);
#endif

QEMU_PLUGIN_EXPORT int qemu_plugin_version = QEMU_PLUGIN_VERSION;

#define MAX_SYMBOLS 4096
#define MAX_MARKS 65536

typedef struct {
    uint64_t n_insns;
    size_t n_parts;
    struct { size_t sym; uint64_t count; } parts[];   /* runs of one symbol inside the block */
} tb_info;

static uint64_t total;
static char *sym_names[MAX_SYMBOLS];
static uint64_t sym_counts[MAX_SYMBOLS];
static size_t n_syms;
static uint64_t marks[MAX_MARKS];
static size_t n_marks;
static uint64_t mark_addr;
static int have_mark;
static char *out_path;

static size_t symbol_index(const char *name)
{
    size_t i;
    if (name == NULL) {
        name = "?";
    }
    for (i = 0; i < n_syms; i++) {      /* few distinct symbols per run: a linear scan is fine */
        if (strcmp(sym_names[i], name) == 0) {
            return i;
        }
    }
    if (n_syms == MAX_SYMBOLS) {
        return MAX_SYMBOLS - 1;
    }
    sym_names[n_syms] = strdup(name);
    return n_syms++;
}

static void on_tb_exec(unsigned int vcpu, void *userdata)
{
    const tb_info *info = userdata;
    size_t i;
    (void)vcpu;
    total += info->n_insns;
    for (i = 0; i < info->n_parts; i++) {
        sym_counts[info->parts[i].sym] += info->parts[i].count;
    }
}

static void on_mark(unsigned int vcpu, void *userdata)
{
    (void)vcpu;
    (void)userdata;
    if (n_marks < MAX_MARKS) {
        marks[n_marks++] = total;     /* the block holding the mark was already counted */
    }
}

static void on_tb_trans(qemu_plugin_id_t id, struct qemu_plugin_tb *tb)
{
    size_t n = qemu_plugin_tb_n_insns(tb), i;
    tb_info *info = calloc(1, sizeof(tb_info) + n * sizeof(info->parts[0]));
    (void)id;
    if (info == NULL) {
        return;
    }
    info->n_insns = n;
    for (i = 0; i < n; i++) {
        struct qemu_plugin_insn *insn = qemu_plugin_tb_get_insn(tb, i);
        size_t sym = symbol_index(qemu_plugin_insn_symbol(insn));
        if (info->n_parts == 0 || info->parts[info->n_parts - 1].sym != sym) {
            info->parts[info->n_parts].sym = sym;
            info->n_parts++;
        }
        info->parts[info->n_parts - 1].count++;
        if (have_mark && (qemu_plugin_insn_vaddr(insn) & ~(uint64_t)1) == mark_addr) {
            qemu_plugin_register_vcpu_insn_exec_cb(insn, on_mark, QEMU_PLUGIN_CB_NO_REGS, NULL);
        }
    }
    qemu_plugin_register_vcpu_tb_exec_cb(tb, on_tb_exec, QEMU_PLUGIN_CB_NO_REGS, info);
}

static void on_plugin_exit(qemu_plugin_id_t id, void *userdata)
{
    FILE *f = fopen(out_path, "w");
    size_t i;
    (void)id;
    (void)userdata;
    if (f == NULL) {
        qemu_plugin_outs("insn_count plugin: cannot open the output file\n");
        return;
    }
    fprintf(f, "total %" PRIu64 "\n", total);
    for (i = 0; i < n_marks; i++) {
        fprintf(f, "mark %zu %" PRIu64 "\n", i, marks[i]);
    }
    for (i = 0; i < n_syms; i++) {
        if (sym_counts[i]) {
            fprintf(f, "sym %s %" PRIu64 "\n", sym_names[i], sym_counts[i]);
        }
    }
    fclose(f);
}

QEMU_PLUGIN_EXPORT int qemu_plugin_install(qemu_plugin_id_t id, const qemu_info_t *info, int argc,
                                           char **argv)
{
    int i;
    (void)info;
    for (i = 0; i < argc; i++) {
        if (strncmp(argv[i], "out=", 4) == 0) {
            out_path = strdup(argv[i] + 4);
        } else if (strncmp(argv[i], "mark=", 5) == 0) {
            mark_addr = strtoull(argv[i] + 5, NULL, 0) & ~(uint64_t)1;   /* drop the Thumb bit */
            have_mark = 1;
        } else {
            qemu_plugin_outs("insn_count plugin: unknown argument (want out=FILE, mark=ADDR)\n");
            return -1;
        }
    }
    if (out_path == NULL) {
        qemu_plugin_outs("insn_count plugin: out=FILE is required\n");
        return -1;
    }
    qemu_plugin_register_vcpu_tb_trans_cb(id, on_tb_trans);
    qemu_plugin_register_atexit_cb(id, on_plugin_exit, NULL);
    return 0;
}
