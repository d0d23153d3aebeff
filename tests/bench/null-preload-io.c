/*
 * The floor for any LD_PRELOAD tool that observes I/O: an interposer of read
 * and write (the calls bench-pipe times) that only forwards them to libc
 * through a pointer. bench-pipe shows it as the `null` column, so weft's own
 * work is the difference between `weft` and `null`.
 *
 * Resolved in the constructor and, should another library's constructor
 * read or write first, on that call: one predictable test per call, as any
 * interposer that cannot rely on running first needs.
 */
#include <dlfcn.h>
#include <unistd.h>

static ssize_t (*real_read)(int, void *, size_t);
static ssize_t (*real_write)(int, const void *, size_t);

/* dlsym's pointer as the variable's type (POSIX allows what ISO C does not). */
#define RESOLVE(var, sym) (var = __extension__(__typeof__(var)) dlsym(RTLD_NEXT, sym))

__attribute__((constructor)) static void resolve(void)
{
	RESOLVE(real_read, "read");
	RESOLVE(real_write, "write");
}

__attribute__((visibility("default"))) ssize_t read(int fd, void *buf, size_t count)
{
	if (__builtin_expect(!real_read, 0))
		resolve();
	return real_read(fd, buf, count);
}

__attribute__((visibility("default"))) ssize_t write(int fd, const void *buf, size_t count)
{
	if (__builtin_expect(!real_write, 0))
		resolve();
	return real_write(fd, buf, count);
}
