/*
 * Function names for code addresses, on the exporter thread.
 *
 * dladdr answers for exported symbols; for the many functions a program does
 * not export (static functions, executables linked without -rdynamic) weft
 * reads the module's own ELF .symtab, mapped read-only. Results are cached
 * per address for the life of the process. C++ names are left mangled.
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
 * In a forked child: an empty cache, and no module the parent's exporter was
 * still loading at the fork (both may be mid-update).
 */
void weft_symbols_reset(void);

#endif
