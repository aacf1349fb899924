/* qsim Cortex-M startup for QEMU mps2-an385 (Cortex-M3) / mps2-an386 (Cortex-M4).
 *
 * Vector table and reset handler written for qsim. QEMU's -kernel loader copies every ELF segment
 * to its load address, and mps2.ld gives .data the same load and run address, so the reset
 * handler only zeroes .bss, opens the semihosting console (newlib librdimon), runs main and exits
 * through semihosting with main's return value. Faults exit with status 0xF0 + exception number.
 */
#include <stdint.h>
#include <stdlib.h>

extern uint32_t __bss_start__[], __bss_end__[], __stack_top[];
extern int main(int argc, char **argv);
extern void initialise_monitor_handles(void);
extern void _exit(int status);
extern void __libc_init_array(void);

/* -nostartfiles drops crti/crtn; newlib's init/fini arrays still call these. */
void _init(void) {}
void _fini(void) {}

void qsim_reset_handler(void);

static void qsim_fault(int number)
{
    _exit(0xF0 + number);
}

static void qsim_nmi_handler(void) { qsim_fault(2); }
static void qsim_hardfault_handler(void) { qsim_fault(3); }
static void qsim_memmanage_handler(void) { qsim_fault(4); }
static void qsim_busfault_handler(void) { qsim_fault(5); }
static void qsim_usagefault_handler(void) { qsim_fault(6); }
static void qsim_other_handler(void) { qsim_fault(15); }

typedef void (*qsim_vector)(void);

/* Word 0: initial stack pointer; word 1: reset; then the fixed Cortex-M exceptions. */
__attribute__((section(".isr_vector"), used))
const qsim_vector qsim_vectors[16] = {
    (qsim_vector)(uintptr_t)__stack_top,
    qsim_reset_handler,
    qsim_nmi_handler,
    qsim_hardfault_handler,
    qsim_memmanage_handler,
    qsim_busfault_handler,
    qsim_usagefault_handler,
    0, 0, 0, 0,
    qsim_other_handler,      /* SVCall */
    qsim_other_handler,      /* DebugMonitor */
    0,
    qsim_other_handler,      /* PendSV */
    qsim_other_handler,      /* SysTick */
};

void qsim_reset_handler(void)
{
    uint32_t *p;
    for (p = __bss_start__; p < __bss_end__; p++) {
        *p = 0;
    }
    __libc_init_array();
    initialise_monitor_handles();
    exit(main(0, 0));
}

/* newlib's heap: from the linker's __heap_start to __heap_end (the PSRAM), independent of SP. */
extern char __heap_start[], __heap_end[];

void *_sbrk(intptr_t increment)
{
    static char *brk = __heap_start;
    char *old = brk;
    if (increment > __heap_end - brk || increment < __heap_start - brk) {
        return (void *)-1;
    }
    brk += increment;
    return old;
}
