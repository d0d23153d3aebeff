/*
 * The private allocator's per-thread mark (see alloc.h). Defined in the core,
 * so that libweft.so and the unit tests (whose allocator is a shim) share it.
 */
#include "agent/alloc.h"

__thread unsigned weft_alloc_busy __attribute__((tls_model("initial-exec")));
