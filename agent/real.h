/*
 * The real-symbol table: the functions our hooks stand in front of.
 *
 * One X-macro list, WEFT_REAL_SYMBOLS, names every interposed function once
 * (LTTng-UST's ustfork.c model). Everything else is generated from it:
 *
 * - the table's entries, typed with `__typeof__` from libc's own prototype,
 *   so an entry cannot disagree with libc; and since every hook is defined
 *   in a file that includes the same libc header, the compiler rejects a hook
 *   whose signature differs from libc's;
 * - the failure each hook returns when the real function cannot be had (the
 *   error convention column): pthread-style calls return ENOSYS, syscall-style
 *   ones return -1 with errno ENOSYS;
 * - libweft.map, the version script that exports exactly these names
 *   (hooks/meson.build preprocesses hooks/libweft.map.in against this file),
 *   linked with --no-undefined-version so a row without a hook fails the
 *   link. A hook calls WEFT_REAL_OR_FAIL(name), which names the row's fields,
 *   so a hook without a row fails to compile; the symbols test checks that
 *   what is exported is exactly the rows.
 *
 * Resolution is lazy and idempotent: the whole table from the constructor, and
 * each entry on first use, because another library's constructor — or the
 * dynamic loader itself — may call a hook before ours has run. Concurrent
 * resolvers store the same pointer. A hook reached while this thread is
 * inside dlsym (a custom allocator that locks, say) finds its entry NULL and
 * the thread marked as resolving, and fails as a missing symbol would, instead
 * of recursing.
 */
#ifndef WEFT_AGENT_REAL_H
#define WEFT_AGENT_REAL_H

#include <errno.h>
#include <poll.h>
#include <setjmp.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/select.h>
#include <sys/sendfile.h>
#include <unistd.h>
#include <stdbool.h>
#include <time.h>
#include <fcntl.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <threads.h>

typedef int (*weft_main_fn)(int, char **, char **);

/* Fortified entry points (_FORTIFY_SOURCE programs call these); declared only under fortify. */
ssize_t __read_chk(int fd, void *buf, size_t nbytes, size_t buflen);
ssize_t __recv_chk(int fd, void *buf, size_t n, size_t buflen, int flags);
ssize_t __recvfrom_chk(int fd, void *buf, size_t n, size_t buflen, int flags, __SOCKADDR_ARG addr,
		       socklen_t *addr_len);
int __open_2(const char *path, int oflag);
int __open64_2(const char *path, int oflag);
int __openat_2(int dirfd, const char *path, int oflag);
int __openat64_2(int dirfd, const char *path, int oflag);

/* glibc's entry from _start; no public header declares it. */
int __libc_start_main(weft_main_fn main, int argc, char **argv, void (*init)(void),
		      void (*fini)(void), void (*rtld_fini)(void), void *stack_end);

/*
 * What longjmp and siglongjmp become in a program built with
 * _FORTIFY_SOURCE; declared by glibc's headers only in such a build (and
 * then as the name those two are redirected to).
 */
void __longjmp_chk(struct __jmp_buf_tag env[1], int val) __attribute__((noreturn));

/*
 * What poll and ppoll become in a program built with _FORTIFY_SOURCE when the
 * array's size is known; declared by glibc's headers only in such a build.
 */
int __poll_chk(struct pollfd *fds, nfds_t nfds, int timeout, size_t fdslen);
int __ppoll_chk(struct pollfd *fds, nfds_t nfds, const struct timespec *timeout,
		const sigset_t *sigmask, size_t fdslen);

#include "agent/real_list.h"

/*
 * The fallbacks (see real_list.h). glibc exports these as compatibility
 * symbols only (version GLIBC_2.2.5, not the default), which a program cannot
 * link against by name: each is declared under a weft_ name bound to the
 * versioned symbol. weft defines none of these names, so they always bind
 * to libc.
 */
#define WEFT_GLIBC_ALIAS(ret, name, params)                                                        \
	ret weft_glibc##name params;                                                               \
	__asm__(".symver weft_glibc" #name ", " #name "@GLIBC_2.2.5")
WEFT_GLIBC_ALIAS(int, __pthread_mutex_lock, (pthread_mutex_t *));
WEFT_GLIBC_ALIAS(int, __pthread_mutex_trylock, (pthread_mutex_t *));
WEFT_GLIBC_ALIAS(int, __pthread_mutex_unlock, (pthread_mutex_t *));
WEFT_GLIBC_ALIAS(int, __pthread_rwlock_rdlock, (pthread_rwlock_t *));
WEFT_GLIBC_ALIAS(int, __pthread_rwlock_wrlock, (pthread_rwlock_t *));
WEFT_GLIBC_ALIAS(int, __pthread_rwlock_tryrdlock, (pthread_rwlock_t *));
WEFT_GLIBC_ALIAS(int, __pthread_rwlock_trywrlock, (pthread_rwlock_t *));
WEFT_GLIBC_ALIAS(int, __pthread_rwlock_unlock, (pthread_rwlock_t *));
#undef WEFT_GLIBC_ALIAS

/* Fallbacks that are the system call itself (agent/real.c). */
int weft_sys_close(int fd);
int weft_sys_close_range(unsigned int first, unsigned int last, int flags);
void weft_sys_closefrom(int lowfd);
int weft_sys_dup2(int oldfd, int newfd);
int weft_sys_dup3(int oldfd, int newfd, int flags);
int weft_sys_dup(int fd);
int weft_sys_fcntl(int fd, int cmd, ...);
ssize_t weft_sys_read(int fd, void *buf, size_t n);
ssize_t weft_sys_write(int fd, const void *buf, size_t n);
ssize_t weft_sys_readv(int fd, const struct iovec *iov, int n);
ssize_t weft_sys_writev(int fd, const struct iovec *iov, int n);
int weft_sys_nanosleep(const struct timespec *req, struct timespec *rem);
unsigned int weft_sys_sleep(unsigned int seconds);

#define WEFT_REAL_FIELD(name, fail, version, fallback) __typeof__(name) *name;
struct weft_real_table {
	WEFT_REAL_SYMBOLS(WEFT_REAL_FIELD)
};
#undef WEFT_REAL_FIELD

#define WEFT_REAL_INDEX(name, fail, version, fallback) WEFT_REAL_IDX_##name,
enum weft_real_index {
	WEFT_REAL_SYMBOLS(WEFT_REAL_INDEX) WEFT_REAL_COUNT,
};
#undef WEFT_REAL_INDEX

extern struct weft_real_table weft_real;

/*
 * At start-up: reads the objects after this one, in which weft_real_resolve
 * then finds each entry when first asked for; or, if their answer is not
 * dlsym's, resolves the whole table with dlsym (agent/real.c).
 */
void weft_real_prepare(void);

/*
 * What RTLD_NEXT would find for name (at version, or the default one when
 * NULL), looked up in the hash tables of the objects after this one without
 * dlsym; NULL when not found or not decidable that way (agent/real.c).
 */
void *weft_real_find(const char *name, const char *version);

/*
 * How many objects weft_real_prepare kept for first calls' lookups (those
 * after this one, up to and including libc); 0 when first calls go to dlsym.
 */
int weft_real_prepared_objects(void);

/* Resolves one entry; returns it, or NULL when it cannot be had (see above). */
void *weft_real_resolve(enum weft_real_index idx);

/*
 * Per row: resolves the entry, else returns the row's fallback (NULL if none).
 * (__extension__: POSIX guarantees the object-to-function pointer conversion
 * that dlsym needs; ISO C does not, and -Wpedantic says so.)
 */
#define WEFT_REAL_GET_FN(name, fail, version, fallback)                                            \
	static inline __typeof__(weft_real.name) weft_real_get_##name(void)                        \
	{                                                                                          \
		__typeof__(weft_real.name) p = __extension__(__typeof__(weft_real.name))           \
			weft_real_resolve(WEFT_REAL_IDX_##name);                                   \
		return p ? p : fallback;                                                           \
	}
WEFT_REAL_SYMBOLS(WEFT_REAL_GET_FN)
#undef WEFT_REAL_GET_FN

/* The real function, resolving it on first use; NULL if unavailable. */
#define WEFT_REAL(name)                                                                            \
	(__builtin_expect(weft_real.name != NULL, 1) ? weft_real.name : weft_real_get_##name())

/* What a hook returns when its real function is missing, by convention. */
static inline int weft_real_fail_RET(void)
{
	return ENOSYS;
}

static inline int weft_real_fail_ERRNO(void)
{
	errno = ENOSYS;
	return -1;
}

static inline void *weft_real_fail_NULL(void)
{
	errno = ENOSYS;
	return (void *)0;
}

#define WEFT_REAL_FAIL_FN(name, fail, version, fallback)                                           \
	static inline __typeof__(weft_real_fail_##fail()) weft_real_fail_##name(void)              \
	{                                                                                          \
		return weft_real_fail_##fail();                                                    \
	}
#define weft_real_fail_NORETURN() 0
WEFT_REAL_SYMBOLS(WEFT_REAL_FAIL_FN)
#undef weft_real_fail_NORETURN
#undef WEFT_REAL_FAIL_FN

/*
 * A hook's first line: `real` is the real function, or the hook returns its
 * row's failure. Naming the row's fields makes a hook without a row a
 * compile error.
 */
#define WEFT_REAL_OR_FAIL(name)                                                                    \
	__typeof__(weft_real.name) const real = WEFT_REAL(name);                                   \
	if (__builtin_expect(real == NULL, 0))                                                     \
	return weft_real_fail_##name()

#endif
