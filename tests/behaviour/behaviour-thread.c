/*
 * A thread's life apart from joins: how it ends (return, pthread_exit from deep
 * frames, cleanup handlers, TSD destructors), its name, the attributes it was
 * created with and creations that fail, and many or nested threads.
 */
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "behaviour.h"

/* Return values, pthread_exit values, cleanup handlers, TSD destructors. */
static pthread_key_t key;
static atomic_int tsd_destroyed;
static char cleanup_order[8];
static atomic_int cleanup_n;

static void tsd_destructor(void *v)
{
	if (v == (void *)&key)
		atomic_fetch_add(&tsd_destroyed, 1);
}

static void cleanup_mark(void *arg)
{
	int n = atomic_fetch_add(&cleanup_n, 1);

	if (n < (int)sizeof(cleanup_order) - 1)
		cleanup_order[n] = *(const char *)arg;
}

/* pthread_exit from a few frames down: the unwind crosses them all. */
static volatile int exit_frames;

static void __attribute__((noinline)) exit_1(void)
{
	exit_frames++;
	pthread_exit((void *)99);
}

static void __attribute__((noinline)) exit_2(void)
{
	exit_frames++;
	exit_1();
	exit_frames++;
}

static void __attribute__((noinline)) exit_3(void)
{
	exit_frames++;
	exit_2();
	exit_frames++;
}

static void *exits_via_pthread_exit(void *arg)
{
	pthread_setspecific(key, &key);
	pthread_cleanup_push(cleanup_mark, "1");
	pthread_cleanup_push(cleanup_mark, "2");
	exit_3();
	pthread_cleanup_pop(0);
	pthread_cleanup_pop(0);
	return NULL;
}

static void *returns_with_tsd(void *arg)
{
	pthread_setspecific(key, &key);
	return (void *)98;
}

void check_values(void)
{
	pthread_t t;
	void *ret = NULL;

	must(pthread_key_create(&key, tsd_destructor), "key");
	must(pthread_create(&t, NULL, exits_via_pthread_exit, NULL), "create");
	OBSERVE("join pthread_exit thread", pthread_join(t, &ret));
	fact("pthread_exit: value", ret == (void *)99);
	printf("%-44s %s\n", "pthread_exit: cleanup order", cleanup_order);
	fact("pthread_exit: frames entered", exit_frames);
	fact("pthread_exit: TSD destructor ran", atomic_load(&tsd_destroyed));

	must(pthread_create(&t, NULL, returns_with_tsd, NULL), "create");
	OBSERVE("join returning thread", pthread_join(t, &ret));
	fact("return: value", ret == (void *)98);
	fact("return: TSD destructors ran", atomic_load(&tsd_destroyed));
	pthread_key_delete(key);
}

void check_setname(void)
{
	struct gate g;
	pthread_t t;
	char name[64];

	OBSERVE("setname self 16 chars", pthread_setname_np(pthread_self(), "abcdefghijklmnop"));
	OBSERVE("setname self 40 chars",
		pthread_setname_np(pthread_self(), "abcdefghijklmnopqrstuvwxyz0123456789ABCD"));
	OBSERVE("setname self 15 chars", pthread_setname_np(pthread_self(), "abcdefghijklmno"));
	memset(name, 0, sizeof(name));
	OBSERVE("getname self", pthread_getname_np(pthread_self(), name, sizeof(name)));
	printf("%-44s %s\n", "getname self: name", name);
	OBSERVE("setname self empty", pthread_setname_np(pthread_self(), ""));
	memset(name, 'x', sizeof(name));
	OBSERVE("getname self", pthread_getname_np(pthread_self(), name, sizeof(name)));
	printf("%-44s [%s]\n", "getname self: name", name);
	OBSERVE("setname self", pthread_setname_np(pthread_self(), "behaviour-main"));

	t = start_gated(&g, NULL);
	OBSERVE("setname other 16 chars", pthread_setname_np(t, "0123456789abcdef"));
	OBSERVE("setname other", pthread_setname_np(t, "worker-7"));
	memset(name, 0, sizeof(name));
	OBSERVE("getname other", pthread_getname_np(t, name, sizeof(name)));
	printf("%-44s %s\n", "getname other: name", name);
	OBSERVE("getname other, small buffer", pthread_getname_np(t, name, 4));
	OBSERVE("setname other again", pthread_setname_np(t, "worker-8"));
	memset(name, 0, sizeof(name));
	OBSERVE("getname other", pthread_getname_np(t, name, sizeof(name)));
	printf("%-44s %s\n", "getname other: name", name);
	release(&g);
	OBSERVE("join named", pthread_join(t, NULL));
}

/* Creation with attributes, and creation that fails. */
struct attr_seen {
	int detachstate;
	size_t stacksize;
	size_t guardsize;
	sem_t done;
	sem_t go;
};

static void *attr_thread(void *arg)
{
	struct attr_seen *s = arg;
	pthread_attr_t a;

	if (pthread_getattr_np(pthread_self(), &a) == 0) {
		pthread_attr_getdetachstate(&a, &s->detachstate);
		pthread_attr_getstacksize(&a, &s->stacksize);
		pthread_attr_getguardsize(&a, &s->guardsize);
		pthread_attr_destroy(&a);
	}
	sem_post(&s->done);
	sem_wait_all(&s->go);
	sem_post(&s->done);
	return (void *)5;
}

void check_attr(void)
{
	struct attr_seen s;
	pthread_attr_t a;
	pthread_t t;
	void *ret = NULL;

	memset(&s, 0, sizeof(s));
	sem_init(&s.done, 0, 0);
	sem_init(&s.go, 0, 0);
	pthread_attr_init(&a);
	pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
	OBSERVE("create detached", pthread_create(&t, &a, attr_thread, &s));
	pthread_attr_destroy(&a);
	sem_wait_all(&s.done);
	fact("create detached: thread sees detached", s.detachstate == PTHREAD_CREATE_DETACHED);
	OBSERVE("join created-detached", pthread_join(t, &ret));
	OBSERVE("detach created-detached", pthread_detach(t));
	sem_post(&s.go);
	sem_wait_all(&s.done);
	sleep_ms(20);

	memset(&s, 0, sizeof(s));
	sem_init(&s.done, 0, 0);
	sem_init(&s.go, 0, 0);
	pthread_attr_init(&a);
	pthread_attr_setstacksize(&a, 1 << 20);
	pthread_attr_setguardsize(&a, 3 * 4096);
	OBSERVE("create with stack size", pthread_create(&t, &a, attr_thread, &s));
	pthread_attr_destroy(&a);
	sem_post(&s.go);
	OBSERVE("join", pthread_join(t, &ret));
	fact("create with stack size: joinable", s.detachstate == PTHREAD_CREATE_JOINABLE);
	fact("create with stack size: stacksize", (long)s.stacksize);
	fact("create with stack size: guardsize", (long)s.guardsize);
	fact("create with stack size: value", ret == (void *)5);

	/* Stacks that cannot be had. */
	static const size_t huge[] = { (size_t)1 << 46, SIZE_MAX & ~(size_t)0xfffff, SIZE_MAX / 2 };
	for (unsigned i = 0; i < sizeof(huge) / sizeof(huge[0]); i++) {
		char what[64];
		int rc;

		pthread_attr_init(&a);
		rc = pthread_attr_setstacksize(&a, huge[i]);
		snprintf(what, sizeof(what), "attr_setstacksize huge #%u", i);
		show(what, rc, 0);
		snprintf(what, sizeof(what), "create with huge stack #%u", i);
		t = (pthread_t)0;
		if (OBSERVE(what, pthread_create(&t, &a, returns_arg, NULL)) == 0)
			pthread_join(t, NULL);
		pthread_attr_destroy(&a);
	}
	/* A guard larger than any address space. */
	pthread_attr_init(&a);
	pthread_attr_setguardsize(&a, SIZE_MAX - 4096 * 4);
	if (OBSERVE("create with huge guard", pthread_create(&t, &a, returns_arg, NULL)) == 0)
		pthread_join(t, NULL);
	pthread_attr_destroy(&a);
}

/* Many threads, created and joined in every order. */
static void *tiny(void *arg)
{
	return (void *)((intptr_t)arg * 3);
}

void check_many(void)
{
	enum { N = 64 };
	pthread_t t[N];
	int ok = 1, rcs = 0;

	for (intptr_t i = 0; i < N; i++)
		rcs |= pthread_create(&t[i], NULL, tiny, (void *)i);
	for (int i = N - 1; i >= 0; i--) {
		void *ret;

		rcs |= pthread_join(t[i], &ret);
		ok &= ret == (void *)((intptr_t)i * 3);
	}
	fact("64 threads: every create and join returned 0", rcs == 0);
	fact("64 threads: every value", ok);
}

/* Nested creation: a thread that creates and joins threads. */
static void *nest(void *arg)
{
	intptr_t depth = (intptr_t)arg;
	pthread_t t;
	void *ret = NULL;

	if (depth == 0)
		return (void *)1000;
	if (pthread_create(&t, NULL, nest, (void *)(depth - 1)) != 0)
		return NULL;
	if (pthread_join(t, &ret) != 0)
		return NULL;
	return (void *)((intptr_t)ret + 1);
}

void check_nested(void)
{
	pthread_t t;
	void *ret = NULL;

	must(pthread_create(&t, NULL, nest, (void *)8), "create");
	OBSERVE("join nested creators", pthread_join(t, &ret));
	fact("  value", (long)(intptr_t)ret);
}
