/* mcu_support.h -- internal interface between startup.c and bench_main.c. */
#ifndef LR_MCU_SUPPORT_H
#define LR_MCU_SUPPORT_H

#include <stddef.h>

/* Exit status of the firmware (and so of QEMU) after a fault or an
 * unexpected interrupt; a message starting with "FAULT" goes to stdout. */
#define MCU_FAULT_EXIT_CODE 99

/* Bytes handed out by _sbrk so far (newlib's stdio buffers live there). */
size_t mcu_heap_used(void);

/* Semihosting exit without newlib (usable from fault context). */
__attribute__((noreturn)) void mcu_raw_exit(int code);

#endif
