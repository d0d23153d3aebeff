/*
 * The agent's private allocator.
 *
 * libweft.so links Debian's PIC jemalloc archive; the version script keeps its
 * symbols local, so these calls can never reach the program's malloc and the
 * program's malloc never reaches them. We call jemalloc's non-standard entry
 * points (mallocx, dallocx) rather than malloc/free so that the binding is
 * unambiguous at link time: libc defines no symbol of these names.
 */
#ifndef WEFT_AGENT_ALLOC_H
#define WEFT_AGENT_ALLOC_H

#include <stddef.h>
#include <string.h>

void *mallocx(size_t size, int flags);
void *rallocx(void *ptr, size_t size, int flags);
void dallocx(void *ptr, int flags);

#define WEFT_MALLOCX_ZERO 0x40 /* jemalloc's MALLOCX_ZERO */
#define WEFT_MALLOCX_LG_ALIGN(lg) (lg) /* jemalloc's MALLOCX_LG_ALIGN */

static inline void *weft_alloc(size_t n)
{
	return mallocx(n ? n : 1, 0);
}

static inline void *weft_zalloc(size_t n)
{
	return mallocx(n ? n : 1, WEFT_MALLOCX_ZERO);
}

/* Aligned to a cache line (64 bytes), for lock-free structures; not zeroed. */
static inline void *weft_alloc_cacheline(size_t n)
{
	return mallocx(n ? n : 1, WEFT_MALLOCX_LG_ALIGN(6));
}

static inline void *weft_realloc(void *p, size_t n)
{
	if (!p)
		return weft_alloc(n);
	return rallocx(p, n ? n : 1, 0);
}

static inline void weft_free(void *p)
{
	if (p)
		dallocx(p, 0);
}

static inline char *weft_strdup(const char *s)
{
	size_t n = strlen(s) + 1;
	char *d = weft_alloc(n);
	if (d)
		memcpy(d, s, n);
	return d;
}

#endif
