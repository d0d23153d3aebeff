/*
 * rtld-next: a program that looks the thread functions up itself, the way
 * other interposers and language runtimes do — dlsym(RTLD_NEXT, ...),
 * dlsym(RTLD_DEFAULT, ...) and dlvsym — and calls what it gets. Under weft
 * the lookups find weft's hooks (or glibc's versioned definitions); either
 * way the calls must behave as natively. Only booleans and results are
 * printed, never addresses.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef int (*create_fn)(pthread_t *, const pthread_attr_t *, void *(*)(void *), void *);
typedef int (*join_fn)(pthread_t, void **);
typedef int (*timedjoin_fn)(pthread_t, void **, const struct timespec *);
typedef int (*clockjoin_fn)(pthread_t, void **, clockid_t, const struct timespec *);
typedef int (*detach_fn)(pthread_t);
typedef int (*setname_fn)(pthread_t, const char *);
typedef void (*exit_fn)(int);

static void *worker(void *arg)
{
	return arg;
}

static sem_t go;

/* Stays alive until `go` is posted, so that it can be named. */
static void *gated(void *arg)
{
	while (sem_wait(&go) != 0 && errno == EINTR)
		;
	return arg;
}

/* Creates a thread with `create` and joins it with `join`. */
static void round_trip(const char *how, create_fn create, join_fn join)
{
	pthread_t t;
	void *ret = NULL;
	int crc, jrc = -1, err;

	errno = 1234;
	crc = create ? create(&t, NULL, worker, (void *)0x77) : -1;
	if (crc == 0)
		jrc = join ? join(t, &ret) : -1;
	err = errno;
	printf("%-26s found=%d create=%d join=%d value ok=%d errno kept=%d\n", how, create && join,
	       crc, jrc, ret == (void *)0x77, err == 1234);
}

#define LOOKUP(handle, type, name) (__extension__(type) dlsym((handle), (name)))

int main(void)
{
	static const char *const names[] = {
		"pthread_create",       "pthread_join",         "pthread_tryjoin_np",
		"pthread_timedjoin_np", "pthread_clockjoin_np", "pthread_detach",
		"pthread_setname_np",   "pthread_exit",         "exit",
		"__libc_start_main"
	};
	setvbuf(stdout, NULL, _IOLBF, 0);

	for (unsigned i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		printf("%-22s RTLD_NEXT=%d RTLD_DEFAULT=%d\n", names[i],
		       dlsym(RTLD_NEXT, names[i]) != NULL, dlsym(RTLD_DEFAULT, names[i]) != NULL);

	/* The address the program links against is what RTLD_DEFAULT finds. */
	printf("RTLD_DEFAULT pthread_create is &pthread_create: %d\n",
	       LOOKUP(RTLD_DEFAULT, create_fn, "pthread_create") == &pthread_create);
	printf("RTLD_DEFAULT pthread_join is &pthread_join: %d\n",
	       LOOKUP(RTLD_DEFAULT, join_fn, "pthread_join") == &pthread_join);

	round_trip("RTLD_NEXT", LOOKUP(RTLD_NEXT, create_fn, "pthread_create"),
		   LOOKUP(RTLD_NEXT, join_fn, "pthread_join"));
	round_trip("RTLD_DEFAULT", LOOKUP(RTLD_DEFAULT, create_fn, "pthread_create"),
		   LOOKUP(RTLD_DEFAULT, join_fn, "pthread_join"));
	round_trip("dlvsym GLIBC_2.34",
		   __extension__(create_fn) dlvsym(RTLD_NEXT, "pthread_create", "GLIBC_2.34"),
		   __extension__(join_fn) dlvsym(RTLD_NEXT, "pthread_join", "GLIBC_2.34"));
	round_trip("dlvsym GLIBC_2.2.5",
		   __extension__(create_fn) dlvsym(RTLD_DEFAULT, "pthread_create", "GLIBC_2.2.5"),
		   __extension__(join_fn) dlvsym(RTLD_DEFAULT, "pthread_join", "GLIBC_2.2.5"));
	round_trip("RTLD_NEXT + tryjoin", LOOKUP(RTLD_NEXT, create_fn, "pthread_create"),
		   LOOKUP(RTLD_NEXT, join_fn, "pthread_tryjoin_np")
			   ? &pthread_join /* tryjoin may find it running */
			   : NULL);

	/* The other functions, called through what dlsym returned. */
	{
		create_fn create = LOOKUP(RTLD_NEXT, create_fn, "pthread_create");
		timedjoin_fn timedjoin = LOOKUP(RTLD_NEXT, timedjoin_fn, "pthread_timedjoin_np");
		clockjoin_fn clockjoin = LOOKUP(RTLD_NEXT, clockjoin_fn, "pthread_clockjoin_np");
		detach_fn detach = LOOKUP(RTLD_NEXT, detach_fn, "pthread_detach");
		setname_fn setname = LOOKUP(RTLD_NEXT, setname_fn, "pthread_setname_np");
		struct timespec ts;
		pthread_t t;
		void *ret = NULL;
		char name[16] = "";

		if (!create || !timedjoin || !clockjoin || !detach || !setname) {
			printf("lookups failed\n");
			return 1;
		}
		sem_init(&go, 0, 0);
		create(&t, NULL, gated, (void *)1);
		printf("setname via dlsym: %d\n", setname(t, "via-dlsym"));
		pthread_getname_np(t, name, sizeof(name));
		printf("name read back: %s\n", name);
		sem_post(&go);
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += 10;
		printf("timedjoin via dlsym: %d", timedjoin(t, &ret, &ts));
		printf(" value ok=%d\n", ret == (void *)1);
		create(&t, NULL, worker, (void *)2);
		clock_gettime(CLOCK_MONOTONIC, &ts);
		ts.tv_sec += 10;
		printf("clockjoin via dlsym: %d", clockjoin(t, &ret, CLOCK_MONOTONIC, &ts));
		printf(" value ok=%d\n", ret == (void *)2);
		printf("clockjoin bad clock via dlsym: %d\n",
		       clockjoin(pthread_self(), &ret, 12345, &ts));
		create(&t, NULL, worker, (void *)3);
		printf("detach via dlsym: %d\n", detach(t));
		printf("setname too long via dlsym: %d\n",
		       setname(pthread_self(), "a-name-that-is-far-too-long"));
	}

	/* Leave through the exit that dlsym found. */
	{
		exit_fn ex = LOOKUP(RTLD_NEXT, exit_fn, "exit");

		printf("exiting through dlsym(RTLD_NEXT, \"exit\")\n");
		if (ex)
			ex(5);
	}
	return 1;
}
