/*
 * startup.c -- vector table, reset handler, fault reporting and _sbrk for the
 * MPS2 boards run under QEMU (mps2-an386 Cortex-M4F, mps2-an500 Cortex-M7,
 * mps2-an505 Cortex-M33).  Linked with -nostartfiles --specs=rdimon.specs:
 * newlib's librdimon supplies printf/exit over semihosting, this file
 * supplies everything crt0 would have done.
 *
 * Reset sequence: enable the FPU (CPACR CP10/CP11 full access) before any
 * floating-point instruction can run, copy .data from its load address,
 * zero .bss, open the semihosting stdio handles, run constructors, then
 * exit(main()).
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "mcu_support.h"

/* Linker-script symbols (mps2_sections.ld). */
extern uint32_t __stack_top__[];
extern uint32_t __stack_limit__[];
extern uint32_t __data_load__[];
extern uint32_t __data_start__[];
extern uint32_t __data_end__[];
extern uint32_t __bss_start__[];
extern uint32_t __bss_end__[];
extern char __heap_start__[];
extern char __heap_end__[];
extern void (*__preinit_array_start[])(void);
extern void (*__preinit_array_end[])(void);
extern void (*__init_array_start[])(void);
extern void (*__init_array_end[])(void);

extern void initialise_monitor_handles(void);
extern int main(void);

void Reset_Handler(void);
void Fault_Handler(void);
void Default_Handler(void);
void mcu_fault_report(const uint32_t *frame, uint32_t exc_return);

#define MCU_N_IRQ 32
#define SCB_CPACR (*(volatile uint32_t *)0xE000ED88u)
#define SCB_ICSR (*(volatile uint32_t *)0xE000ED04u)
#define SCB_CFSR (*(volatile uint32_t *)0xE000ED28u)
#define SCB_HFSR (*(volatile uint32_t *)0xE000ED2Cu)
#define SCB_MMFAR (*(volatile uint32_t *)0xE000ED34u)
#define SCB_BFAR (*(volatile uint32_t *)0xE000ED38u)

typedef void (*mcu_vector_t)(void);
typedef struct {
    uint32_t *initial_sp;
    mcu_vector_t handlers[15 + MCU_N_IRQ];
} mcu_vector_table_t;

__attribute__((section(".vectors"), used))
const mcu_vector_table_t mcu_vector_table = {
    __stack_top__,
    {
        Reset_Handler,   /*  1 Reset */
        Fault_Handler,   /*  2 NMI */
        Fault_Handler,   /*  3 HardFault */
        Fault_Handler,   /*  4 MemManage */
        Fault_Handler,   /*  5 BusFault */
        Fault_Handler,   /*  6 UsageFault */
        Fault_Handler,   /*  7 SecureFault (v8-M), reserved before */
        0, 0, 0,         /*  8-10 reserved */
        Default_Handler, /* 11 SVCall */
        Default_Handler, /* 12 DebugMonitor */
        0,               /* 13 reserved */
        Default_Handler, /* 14 PendSV */
        Default_Handler, /* 15 SysTick */
        /* 32 external interrupts: none is ever enabled by this firmware. */
        Default_Handler, Default_Handler, Default_Handler, Default_Handler,
        Default_Handler, Default_Handler, Default_Handler, Default_Handler,
        Default_Handler, Default_Handler, Default_Handler, Default_Handler,
        Default_Handler, Default_Handler, Default_Handler, Default_Handler,
        Default_Handler, Default_Handler, Default_Handler, Default_Handler,
        Default_Handler, Default_Handler, Default_Handler, Default_Handler,
        Default_Handler, Default_Handler, Default_Handler, Default_Handler,
        Default_Handler, Default_Handler, Default_Handler, Default_Handler,
    },
};

/* ---- semihosting, raw (usable from fault context, no newlib state) ---- */

#define SH_SYS_WRITE0 0x04u
#define SH_SYS_EXIT_EXTENDED 0x20u
#define SH_ADP_STOPPED_APPLICATION_EXIT 0x20026u

static uint32_t sh_call(uint32_t op, const void *arg)
{
    register uint32_t r0 __asm__("r0") = op;
    register const void *r1 __asm__("r1") = arg;
    __asm__ volatile("bkpt 0xab" : "+r"(r0) : "r"(r1) : "memory");
    return r0;
}

static void sh_write0(const char *s)
{
    (void)sh_call(SH_SYS_WRITE0, s);
}

__attribute__((noreturn)) void mcu_raw_exit(int code)
{
    uint32_t block[2];
    block[0] = SH_ADP_STOPPED_APPLICATION_EXIT;
    block[1] = (uint32_t)code;
    (void)sh_call(SH_SYS_EXIT_EXTENDED, block);
    for (;;) {
    }
}

static char *put_hex(char *p, uint32_t v)
{
    static const char digits[] = "0123456789abcdef";
    int shift;
    *p++ = '0';
    *p++ = 'x';
    for (shift = 28; shift >= 0; shift -= 4) {
        *p++ = digits[(v >> shift) & 0xFu];
    }
    return p;
}

static char *put_str(char *p, const char *s)
{
    while (*s != '\0') {
        *p++ = *s++;
    }
    return p;
}

/* ---- reset ---- */

__attribute__((noinline, noreturn)) static void mcu_c_startup(void)
{
    const uint32_t *src = __data_load__;
    uint32_t *dst = __data_start__;
    size_t i;
    size_t n;

#if defined(__ARM_ARCH_8M_MAIN__)
    /* v8-M: hardware stack-limit check, so an overflow faults at once. */
    __asm__ volatile("msr msplim, %0" : : "r"(__stack_limit__));
#endif
    while (dst < __data_end__) {
        *dst++ = *src++;
    }
    for (dst = __bss_start__; dst < __bss_end__; ++dst) {
        *dst = 0u;
    }
    initialise_monitor_handles();
    n = (size_t)(__preinit_array_end - __preinit_array_start);
    for (i = 0; i < n; ++i) {
        __preinit_array_start[i]();
    }
    n = (size_t)(__init_array_end - __init_array_start);
    for (i = 0; i < n; ++i) {
        __init_array_start[i]();
    }
    exit(main());
}

__attribute__((noreturn)) void Reset_Handler(void)
{
#if defined(__ARM_FP)
    /* CP10 and CP11 full access (CPACR bits 20-23): must precede the first
     * floating-point instruction, hence nothing else happens here. (Not on an
     * FPU-less core such as the Cortex-M3.) */
    SCB_CPACR |= (0xFu << 20);
    __asm__ volatile("dsb\n\tisb" : : : "memory");
#endif
    mcu_c_startup();
}

/* ---- faults: report over semihosting, exit with MCU_FAULT_EXIT_CODE ---- */

__attribute__((naked)) void Fault_Handler(void)
{
    __asm__ volatile(
        "tst lr, #4\n\t"
        "ite eq\n\t"
        "mrseq r0, msp\n\t"
        "mrsne r0, psp\n\t"
        "mov r1, lr\n\t"
        "b mcu_fault_report\n\t");
}

__attribute__((noreturn, used)) void mcu_fault_report(const uint32_t *frame,
                                                      uint32_t exc_return)
{
    static char buf[192];
    char *p = buf;
    p = put_str(p, "\nFAULT exception=");
    p = put_hex(p, SCB_ICSR & 0x1FFu);
    p = put_str(p, " pc=");
    p = put_hex(p, frame[6]);
    p = put_str(p, " lr=");
    p = put_hex(p, frame[5]);
    p = put_str(p, " cfsr=");
    p = put_hex(p, SCB_CFSR);
    p = put_str(p, " hfsr=");
    p = put_hex(p, SCB_HFSR);
    p = put_str(p, " bfar=");
    p = put_hex(p, SCB_BFAR);
    p = put_str(p, " exc_return=");
    p = put_hex(p, exc_return);
    p = put_str(p, "\n");
    *p = '\0';
    sh_write0(buf);
    mcu_raw_exit(MCU_FAULT_EXIT_CODE);
}

__attribute__((noreturn)) void Default_Handler(void)
{
    sh_write0("\nFAULT unexpected interrupt\n");
    mcu_raw_exit(MCU_FAULT_EXIT_CODE);
}

/* crti.o/crtn.o are not linked (-nostartfiles); newlib's __libc_fini_array,
 * pulled in through exit(), still calls _fini. */
void _init(void);
void _fini(void);
void _init(void)
{
}
void _fini(void)
{
}

/* ---- heap: bounded by the linker script, not by the current SP ---- */

static char *mcu_brk = __heap_start__;

void *_sbrk(ptrdiff_t incr)
{
    char *prev = mcu_brk;
    if ((incr < 0 && incr < __heap_start__ - mcu_brk) ||
        (incr > 0 && incr > __heap_end__ - mcu_brk)) {
        errno = ENOMEM;
        return (void *)-1;
    }
    mcu_brk += incr;
    return prev;
}

size_t mcu_heap_used(void)
{
    return (size_t)(mcu_brk - __heap_start__);
}
