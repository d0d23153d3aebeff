/*
 * The real-symbol table: the functions our hooks stand in front of.
 *
 * One X-macro list names every interposed function with its type (LTTng-UST's
 * ustfork.c model). The table is resolved whole from the constructor, and each
 * entry lazily on first use, because another library's constructor — or the
 * dynamic loader itself — may call a hook before ours has run. Resolution is
 * idempotent and lock-free: concurrent resolvers store the same pointer.
 *
 * A symbol that cannot be resolved leaves its entry NULL; the hook then fails
 * the call with ENOSYS rather than crash. A hook reached while this thread is
 * inside dlsym (a custom allocator that locks, say) finds its entry NULL and
 * the thread marked as resolving, and fails the same way instead of recursing.
 */
#ifndef WEFT_AGENT_REAL_H
#define WEFT_AGENT_REAL_H

#include <pthread.h>
#include <stdbool.h>
#include <time.h>

typedef int (*weft_main_fn)(int, char **, char **);

/* X(name, return type, parameter list, glibc symbol version or NULL) */
#define WEFT_REAL_SYMBOLS(X)                                                                       \
	X(pthread_create, int,                                                                     \
	  (pthread_t *, const pthread_attr_t *, void *(*)(void *), void *), NULL)                \
	X(pthread_join, int, (pthread_t, void **), NULL)                                           \
	X(pthread_tryjoin_np, int, (pthread_t, void **), NULL)                                     \
	X(pthread_timedjoin_np, int, (pthread_t, void **, const struct timespec *), NULL)          \
	X(pthread_clockjoin_np, int, (pthread_t, void **, clockid_t, const struct timespec *),     \
	  NULL)                                                                                    \
	X(pthread_detach, int, (pthread_t), NULL)                                                  \
	X(pthread_setname_np, int, (pthread_t, const char *), NULL)                                \
	X(pthread_exit, void, (void *), NULL)                                                      \
	X(close, int, (int), NULL)                                                                 \
	X(close_range, int, (unsigned int, unsigned int, int), NULL)                               \
	X(closefrom, void, (int), NULL)                                                            \
	X(dup2, int, (int, int), NULL)                                                             \
	X(dup3, int, (int, int, int), NULL)                                                        \
	X(__libc_start_main, int,                                                                  \
	  (weft_main_fn, int, char **, void (*)(void), void (*)(void), void (*)(void), void *),   \
	  NULL)

#define WEFT_REAL_FIELD(name, ret, params, version) ret(*name) params;
struct weft_real_table {
	WEFT_REAL_SYMBOLS(WEFT_REAL_FIELD)
};
#undef WEFT_REAL_FIELD

#define WEFT_REAL_INDEX(name, ret, params, version) WEFT_REAL_IDX_##name,
enum weft_real_index {
	WEFT_REAL_SYMBOLS(WEFT_REAL_INDEX) WEFT_REAL_COUNT
};
#undef WEFT_REAL_INDEX

extern struct weft_real_table weft_real;

/* Resolves every entry that is still NULL. */
void weft_real_resolve_all(void);

/* Resolves one entry; returns it, or NULL when it cannot be had (see above). */
void *weft_real_resolve(enum weft_real_index idx);

/*
 * The real function, resolving it on first use; NULL if unavailable.
 * (__extension__: POSIX guarantees the object-to-function pointer conversion
 * that dlsym needs; ISO C does not, and -Wpedantic says so.)
 */
#define WEFT_REAL(name)                                                                            \
	(__builtin_expect(weft_real.name != NULL, 1)                                               \
		 ? weft_real.name                                                                  \
		 : __extension__(__typeof__(weft_real.name))weft_real_resolve(WEFT_REAL_IDX_##name))

#endif
