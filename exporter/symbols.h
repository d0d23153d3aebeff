/*
 * Function names for code addresses, on the exporter thread.
 *
 * weft reads each loaded module's dynamic symbol table as the loader has it
 * in memory, then, for the many functions a program does not export (static
 * functions, executables linked without -rdynamic), the module file's ELF
 * .symtab, mapped read-only. C++ and Rust names are demangled
 * (exporter/demangle.h). Results are cached per address for the life of
 * the process.
 */
#ifndef WEFT_EXPORTER_SYMBOLS_H
#define WEFT_EXPORTER_SYMBOLS_H

#include <stdint.h>

/*
 * Caches what can only be read while the main thread lives (/proc/self/exe
 * stops resolving once the thread-group leader has exited). Call at setup.
 */
void weft_symbols_init(void);

/* The name of the function containing addr, or NULL when none is known. */
const char *weft_symbols_name(uintptr_t addr);

/*
 * The name of a thread's start routine (weft_thread's start_routine): its
 * function's, but for a C++ std::thread's state's _M_run (hooks/thread.c),
 * the callable it runs: `main::{lambda()#1}`, `Worker` (a function object),
 * `void (*)(int)` (a function pointer: only its type is in the name).
 * NULL when none is known.
 */
const char *weft_symbols_routine(uintptr_t addr);

/*
 * The file of the loaded module addr is in (a string kept for the life of
 * the process), and the lowest address it is mapped at in *start; NULL when
 * it is in none.
 */
const char *weft_symbols_module(uintptr_t addr, uintptr_t *start);

/*
 * In a forked child: an empty cache, and no module the parent's exporter was
 * still loading at the fork (both may be mid-update).
 */
void weft_symbols_reset(void);

#endif
