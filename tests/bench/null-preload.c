/*
 * The floor for any LD_PRELOAD tool: an interposer of the calls bench-sync
 * makes that does nothing but forward them to libc through a pointer. What
 * it costs is what interposition itself costs (the call into another shared
 * object, a load, an indirect call); bench-sync shows it as the `null`
 * column, so weft's own work is the difference between `weft` and `null`.
 */
#include <dlfcn.h>
#include <pthread.h>

static int (*real_lock)(pthread_mutex_t *);
static int (*real_trylock)(pthread_mutex_t *);
static int (*real_unlock)(pthread_mutex_t *);
static int (*real_wait)(pthread_cond_t *, pthread_mutex_t *);
static int (*real_signal)(pthread_cond_t *);

/* Resolved before main (the workloads call nothing earlier). */
/* dlsym's pointer as the variable's type (POSIX allows what ISO C does not). */
#define RESOLVE(var, sym) (var = __extension__(__typeof__(var)) sym)

/* Resolved before main (the workloads call nothing earlier). */
__attribute__((constructor)) static void resolve(void)
{
	RESOLVE(real_lock, dlsym(RTLD_NEXT, "pthread_mutex_lock"));
	RESOLVE(real_trylock, dlsym(RTLD_NEXT, "pthread_mutex_trylock"));
	RESOLVE(real_unlock, dlsym(RTLD_NEXT, "pthread_mutex_unlock"));
	RESOLVE(real_wait, dlvsym(RTLD_NEXT, "pthread_cond_wait", "GLIBC_2.3.2"));
	RESOLVE(real_signal, dlvsym(RTLD_NEXT, "pthread_cond_signal", "GLIBC_2.3.2"));
}

__attribute__((visibility("default"))) int pthread_mutex_lock(pthread_mutex_t *m)
{
	return real_lock(m);
}

__attribute__((visibility("default"))) int pthread_mutex_trylock(pthread_mutex_t *m)
{
	return real_trylock(m);
}

__attribute__((visibility("default"))) int pthread_mutex_unlock(pthread_mutex_t *m)
{
	return real_unlock(m);
}

__attribute__((visibility("default"))) int pthread_cond_wait(pthread_cond_t *c, pthread_mutex_t *m)
{
	return real_wait(c, m);
}

__attribute__((visibility("default"))) int pthread_cond_signal(pthread_cond_t *c)
{
	return real_signal(c);
}
