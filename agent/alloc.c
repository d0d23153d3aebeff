/*
 * The private allocator's per-thread mark (see alloc.h). Defined in the core,
 * so that libweft.so and the unit tests (whose allocator is a shim) share it.
 */
#include "agent/alloc.h"
#include "agent/large.h"

__thread unsigned weft_alloc_busy __attribute__((tls_model("initial-exec")));

int weft_alloc_ready;

_Alignas(64) char weft_boot_arena[WEFT_BOOT_SIZE] WEFT_LARGE;

/* The unit tests' allocator takes nothing from the arena (see alloc.h). */
static void *boot_none(size_t n, size_t align)
{
	(void)n;
	(void)align;
	return NULL;
}

static void no_fork_handler(void)
{
}

/* The unit tests' allocator (the C library's) needs no initialising. */
static void ready_at_once(void)
{
	__atomic_store_n(&weft_alloc_ready, 1, __ATOMIC_RELEASE);
}

/* Overridden in libweft.so by agent/alloc_private.c; the unit tests' shim has none. */
__attribute__((weak, alias("no_fork_handler"))) void weft_alloc_fork_prepare(void);
__attribute__((weak, alias("no_fork_handler"))) void weft_alloc_fork_parent(void);
__attribute__((weak, alias("no_fork_handler"))) void weft_alloc_fork_child(void);
__attribute__((weak, alias("ready_at_once"))) void weft_alloc_first(void);
__attribute__((weak, alias("boot_none"))) void *weft_boot_take(size_t n, size_t align);
