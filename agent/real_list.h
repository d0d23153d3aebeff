/*
 * The list of interposed functions, alone: agent/real.h generates the table
 * from it, and hooks/libweft.map.in the exported names. It includes nothing,
 * so that the version script can be preprocessed from it.
 */
#ifndef WEFT_AGENT_REAL_LIST_H
#define WEFT_AGENT_REAL_LIST_H

/*
 * X(name, failure convention, glibc symbol version or NULL)
 *
 * Conventions: RET (return ENOSYS), ERRNO (errno = ENOSYS, return -1),
 * NULL (errno = ENOSYS, return NULL), NORETURN (the hook handles it itself).
 *
 * WEFT_EXTRA_ROWS is empty; tests/behaviour/rows.py defines it to show that a
 * row without a hook, or a hook without a row, fails the build.
 */
#ifndef WEFT_EXTRA_ROWS
#define WEFT_EXTRA_ROWS(X)
#endif
#define WEFT_REAL_SYMBOLS(X)                                                                       \
	WEFT_EXTRA_ROWS(X)                                                                         \
	X(__libc_start_main, NORETURN, NULL)                                                       \
	X(pthread_create, RET, NULL)                                                               \
	X(pthread_join, RET, NULL)                                                                 \
	X(pthread_tryjoin_np, RET, NULL)                                                           \
	X(pthread_timedjoin_np, RET, NULL)                                                         \
	X(pthread_clockjoin_np, RET, NULL)                                                         \
	X(pthread_detach, RET, NULL)                                                               \
	X(pthread_setname_np, RET, NULL)                                                           \
	X(pthread_exit, NORETURN, NULL)

#endif
