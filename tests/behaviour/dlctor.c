/*
 * libdlctor.so: loaded with dlopen() by dlopen-main. Its constructor starts
 * three named threads and joins them; its destructor (at dlclose) does the
 * same with one; dlctor_spawn() starts more on request. Under weft every one
 * of them must be reported as a `thread <name>` span.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdint.h>
#include <stdio.h>
#include <unistd.h>

#define EXPORT __attribute__((visibility("default")))

EXPORT int dlctor_constructor_ok(void);
EXPORT int dlctor_spawn(int n);

static int constructor_ok;

struct named_arg {
	sem_t named; /* posted once the creator has named the thread */
	intptr_t value;
};

static void *named(void *arg)
{
	struct named_arg *a = arg;

	while (sem_wait(&a->named) != 0 && errno == EINTR)
		;
	return (void *)a->value;
}

/* Starts `n` threads named `prefix-<i>`, joins them; 1 when all went well. */
static int spawn(const char *prefix, int n)
{
	int ok = 1;

	for (intptr_t i = 0; i < n; i++) {
		struct named_arg a = { .value = i + 100 };
		pthread_t t;
		void *ret = NULL;
		char name[16];

		sem_init(&a.named, 0, 0);
		errno = 1234;
		if (pthread_create(&t, NULL, named, &a) != 0)
			return 0;
		snprintf(name, sizeof(name), "%s-%d", prefix, (int)i);
		ok &= pthread_setname_np(t, name) == 0;
		sem_post(&a.named);
		ok &= pthread_join(t, &ret) == 0 && ret == (void *)(i + 100);
		ok &= errno == 1234;
		sem_destroy(&a.named);
	}
	return ok;
}

__attribute__((constructor)) static void dlctor_constructor(void)
{
	constructor_ok = spawn("dl-ctor", 3);
}

__attribute__((destructor)) static void dlctor_destructor(void)
{
	if (!spawn("dl-dtor", 1))
		(void)!write(1, "destructor threads failed\n", 26);
}

EXPORT int dlctor_constructor_ok(void)
{
	return constructor_ok;
}

EXPORT int dlctor_spawn(int n)
{
	return spawn("dl-call", n);
}
