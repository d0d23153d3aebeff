#include <dlfcn.h>
#include <stdarg.h>
#include <stddef.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "agent/atomic.h"
#include "agent/guard.h"
#include "agent/real.h"

struct weft_real_table weft_real;

struct real_entry {
	const char *name;
	const char *version;
};

#define WEFT_REAL_ENTRY(name, fail, version, fallback) { #name, version },
static const struct real_entry real_entries[WEFT_REAL_COUNT] = { WEFT_REAL_SYMBOLS(
	WEFT_REAL_ENTRY) };
#undef WEFT_REAL_ENTRY

/* This thread is inside dlsym: a nested hook must not resolve again. */
static __thread bool resolving __attribute__((tls_model("initial-exec")));

void *weft_real_resolve(enum weft_real_index idx)
{
	/*
	 * The table is an array of function pointers in declaration order; we
	 * access it as such so that one loop serves every entry. Each slot is
	 * written with a relaxed atomic store: racing resolvers store the same
	 * value, and a reader that sees NULL simply resolves again.
	 */
	_Atomic(void *) *slots = (_Atomic(void *) *)(void *)&weft_real;
	const struct real_entry *e = &real_entries[idx];
	void *p = weft_load_relaxed(&slots[idx]);

	if (p || resolving)
		return p;
	resolving = true;
	weft_guard_enter();
	if (e->version)
		p = dlvsym(RTLD_NEXT, e->name, e->version);
	if (!p)
		p = dlsym(RTLD_NEXT, e->name);
	weft_guard_leave();
	resolving = false;
	if (p)
		weft_store_relaxed(&slots[idx], p);
	return p;
}

void weft_real_resolve_all(void)
{
	for (int i = 0; i < WEFT_REAL_COUNT; i++)
		weft_real_resolve((enum weft_real_index)i);
}

int weft_sys_close(int fd)
{
	return (int)syscall(SYS_close, fd);
}

int weft_sys_close_range(unsigned int first, unsigned int last, int flags)
{
	return (int)syscall(SYS_close_range, first, last, flags);
}

void weft_sys_closefrom(int lowfd)
{
	syscall(SYS_close_range, lowfd < 0 ? 0u : (unsigned int)lowfd, ~0u, 0);
}

int weft_sys_dup2(int oldfd, int newfd)
{
	return (int)syscall(SYS_dup2, oldfd, newfd);
}

int weft_sys_dup3(int oldfd, int newfd, int flags)
{
	return (int)syscall(SYS_dup3, oldfd, newfd, flags);
}

int weft_sys_dup(int fd)
{
	return (int)syscall(SYS_dup, fd);
}

int weft_sys_fcntl(int fd, int cmd, ...)
{
	va_list ap;
	unsigned long arg;

	va_start(ap, cmd);
	arg = va_arg(ap, unsigned long);
	va_end(ap);
	return (int)syscall(SYS_fcntl, fd, cmd, arg);
}

ssize_t weft_sys_read(int fd, void *buf, size_t n)
{
	return syscall(SYS_read, fd, buf, n);
}

ssize_t weft_sys_write(int fd, const void *buf, size_t n)
{
	return syscall(SYS_write, fd, buf, n);
}

ssize_t weft_sys_readv(int fd, const struct iovec *iov, int n)
{
	return syscall(SYS_readv, fd, iov, n);
}

ssize_t weft_sys_writev(int fd, const struct iovec *iov, int n)
{
	return syscall(SYS_writev, fd, iov, n);
}
