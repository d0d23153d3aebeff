/*
 * The unit tests link the core without jemalloc, so that sanitizers see every
 * allocation: jemalloc's extended API is mapped onto the C library here.
 */
#include <stdlib.h>
#include <string.h>

#include "agent/alloc.h"

void *mallocx(size_t size, int flags)
{
	if (flags & WEFT_MALLOCX_ZERO)
		return calloc(1, size);
	return malloc(size);
}

void *rallocx(void *ptr, size_t size, int flags)
{
	(void)flags;
	return realloc(ptr, size);
}

void dallocx(void *ptr, int flags)
{
	(void)flags;
	free(ptr);
}
