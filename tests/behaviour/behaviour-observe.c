/*
 * The behaviour program's tools (declared in behaviour.h): deterministic
 * printing of results and errno, clocks, and gated threads.
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "behaviour.h"

const char *ename(int e)
{
	static _Thread_local char buf[32];

	/* One name per line. */
	/* clang-format off */
	switch (e) {
	case 0: return "0";
	case SENTINEL: return "kept";
	case EINVAL: return "EINVAL";
	case EDEADLK: return "EDEADLK";
	case ESRCH: return "ESRCH";
	case EBUSY: return "EBUSY";
	case ETIMEDOUT: return "ETIMEDOUT";
	case ERANGE: return "ERANGE";
	case EAGAIN: return "EAGAIN";
	case ENOMEM: return "ENOMEM";
	case EPERM: return "EPERM";
	case ENOSYS: return "ENOSYS";
	case EINTR: return "EINTR";
	case ENOENT: return "ENOENT";
	case EOVERFLOW: return "EOVERFLOW";
	default: snprintf(buf, sizeof(buf), "%d", e); return buf;
	}
	/* clang-format on */
}

void show(const char *what, int rc, int err)
{
	printf("%-44s rc=%s errno=%s\n", what, ename(rc), ename(err));
}

int observe(const char *what, int rc)
{
	int err = errno;

	show(what, rc, err);
	return rc;
}

void fact(const char *what, long value)
{
	printf("%-44s %ld\n", what, value);
}

long long now_ns(clockid_t clk)
{
	struct timespec ts;

	clock_gettime(clk, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

struct timespec deadline(clockid_t clk, long long from_now_ns)
{
	long long t = now_ns(clk) + from_now_ns;
	struct timespec ts = { .tv_sec = t / 1000000000LL, .tv_nsec = t % 1000000000LL };

	return ts;
}

long long ts_ns(const struct timespec *ts)
{
	return ts->tv_sec * 1000000000LL + ts->tv_nsec;
}

void sleep_ms(long ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * MS };

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

void must(int rc, const char *what)
{
	if (rc != 0) {
		printf("SETUP FAILED: %s: %s\n", what, ename(rc));
		fflush(stdout);
		abort();
	}
}

void sem_wait_all(sem_t *s)
{
	while (sem_wait(s) != 0 && errno == EINTR)
		;
}

static void gate_init(struct gate *g, void *value)
{
	sem_init(&g->go, 0, 0);
	sem_init(&g->started, 0, 0);
	sem_init(&g->leaving, 0, 0);
	g->value = value;
}

static void *gated(void *arg)
{
	struct gate *g = arg;

	g->tid = (pid_t)syscall(SYS_gettid);
	sem_post(&g->started);
	sem_wait_all(&g->go);
	sem_post(&g->leaving);
	return g->value;
}

pthread_t start_gated(struct gate *g, void *value)
{
	pthread_t t;

	gate_init(g, value);
	must(pthread_create(&t, NULL, gated, g), "create gated");
	sem_wait_all(&g->started);
	return t;
}

void release(struct gate *g)
{
	sem_post(&g->go);
	sem_wait_all(&g->leaving);
}

/*
 * Waits until a released thread has ended: its kernel task is gone, so the
 * kernel has also cleared the tid that joins wait on.
 */
void settle(const struct gate *g)
{
	while (syscall(SYS_tgkill, (long)getpid(), (long)g->tid, 0L) == 0)
		sleep_ms(1);
}

void *returns_arg(void *arg)
{
	return arg;
}

void *sleeps_then_returns(void *arg)
{
	sleep_ms(200);
	return arg;
}
