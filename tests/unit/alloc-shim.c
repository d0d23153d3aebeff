/*
 * The unit tests link the core without jemalloc, so that sanitizers see every
 * allocation: jemalloc's extended API is mapped onto the C library here.
 */
#include <stdlib.h>
#include <string.h>

#include "agent/alloc.h"

void *mallocx(size_t size, int flags)
{
	size_t align = (size_t)1 << (flags & 0x3f);
	void *p;

	/* jemalloc's low six flag bits are lg(alignment); zero means none asked. */
	if (flags & 0x3f) {
		p = aligned_alloc(align, (size + align - 1) & ~(align - 1));
		if (p && (flags & WEFT_MALLOCX_ZERO))
			memset(p, 0, size);
		return p;
	}
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
