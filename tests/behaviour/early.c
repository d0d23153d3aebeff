/*
 * libearly.so: a library whose constructor uses threads.
 *
 * A program linked against it runs this constructor before its own code —
 * and, under weft, before weft's own constructor (a preloaded library is
 * initialised after the libraries the program needs). So weft's hooks are
 * first reached from here: they must resolve the real functions and start
 * the agent lazily, and the thread made here must be reported like any
 * other, as the span `thread early-ctor`.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <string.h>

#include "early.h"

static struct early_result result;
static sem_t named;

static void *early_thread(void *arg)
{
	while (sem_wait(&named) != 0 && errno == EINTR)
		;
	pthread_getname_np(pthread_self(), result.name_seen, sizeof(result.name_seen));
	return (void *)0x5a;
}

__attribute__((constructor)) static void early_constructor(void)
{
	pthread_t t;
	void *ret = NULL;

	sem_init(&named, 0, 0);
	errno = 1234;
	result.create_rc = pthread_create(&t, NULL, early_thread, NULL);
	result.errno_kept = errno == 1234;
	if (result.create_rc != 0)
		return;
	result.setname_rc = pthread_setname_np(t, "early-ctor");
	sem_post(&named);
	result.join_rc = pthread_join(t, &ret);
	result.errno_kept &= errno == 1234;
	result.value_ok = ret == (void *)0x5a;
	result.ran = 1;
}

const struct early_result *early_result(void)
{
	return &result;
}
