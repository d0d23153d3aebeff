/*
 * Job queues whose every job is handed to a worker that is waiting for it,
 * for tests/integration/test-tasks.py: the number of tasks weft infers is
 * then exact.
 *
 *   jobqueue cond N W   W workers ("worker-0" …, start routine cond_worker)
 *                       take jobs from a one-slot mutex+condvar queue; main
 *                       hands each of N jobs over only when a worker waits
 *                       for it (it waits on `idle` for one), then waits for
 *                       the N jobs done and every worker waiting, sleeps
 *                       300 ms (pool idle), and stops the pool with a flag
 *                       and one broadcast: N + W hand-offs to the pool.
 *   jobqueue sem N W    the same with a semaphore (start routine
 *                       sem_worker, unnamed threads): main posts a job only
 *                       when the semaphore is 0 and every worker sleeps on
 *                       it, then W posts of a stop job: N + W.
 *   jobqueue inner N    cond mode with one worker, which inside each job asks
 *                       a "helper" thread for an answer and waits for it on a
 *                       second condition variable: a hand-off inside a task,
 *                       which starts no task of its own (N + 1 worker tasks).
 *   jobqueue epoll N    an epoll server: a thread ("acceptor") waits in
 *                       epoll_wait on a non-blocking loopback listener,
 *                       accepts, reads a 4-byte request and answers it; main
 *                       connects N times, each once the acceptor sleeps in
 *                       epoll_wait: N ready waits, N tasks, each the parent
 *                       of its connection's `accept` span.
 *   jobqueue idle       a thread ("locker") that only takes a mutex, sleeps
 *                       and waits on a condition variable that times out:
 *                       no hand-off, no task.
 *
 * Each worker counts the jobs it ran; prints "jobs N" (their sum) and
 * "sum S" (of the job numbers), the same whatever the scheduling.
 */
#include <pthread.h>
#include <semaphore.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "blocked.h"

enum { MAX_WORKERS = 16 };

static struct {
	pthread_mutex_t m;
	pthread_cond_t work, idle;
	sem_t sem;
	int waiting;  /* workers waiting for a job */
	bool has_job; /* the one slot is full */
	int job;      /* its number */
	int done;     /* jobs finished */
	long sum;     /* of the finished jobs' numbers */
	bool stop;
	pid_t tids[MAX_WORKERS];
} q = { .m = PTHREAD_MUTEX_INITIALIZER,
	.work = PTHREAD_COND_INITIALIZER,
	.idle = PTHREAD_COND_INITIALIZER };

static volatile unsigned long sink;

/* inner mode: the worker's question to the helper, and the answer. */
static struct {
	bool on;
	pthread_mutex_t m;
	pthread_cond_t ask, answer;
	int question, reply; /* -1: none */
	bool stop, ready;
} help = { .m = PTHREAD_MUTEX_INITIALIZER,
	   .ask = PTHREAD_COND_INITIALIZER,
	   .answer = PTHREAD_COND_INITIALIZER,
	   .question = -1,
	   .reply = -1 };

static void *helper(void *arg)
{
	pthread_setname_np(pthread_self(), "helper");
	pthread_mutex_lock(&help.m);
	/* Seen under the mutex: the helper is then waiting for the first question. */
	help.ready = true;
	for (;;) {
		while (help.question < 0 && !help.stop)
			pthread_cond_wait(&help.ask, &help.m);
		if (help.question < 0)
			break;
		help.reply = help.question * 2;
		help.question = -1;
		pthread_cond_signal(&help.answer);
	}
	pthread_mutex_unlock(&help.m);
	return arg;
}

/* Inside a job: ask the helper and wait for its answer. */
static int ask_helper(int job)
{
	int reply;

	pthread_mutex_lock(&help.m);
	help.question = job;
	pthread_cond_signal(&help.ask);
	while (help.reply < 0)
		pthread_cond_wait(&help.answer, &help.m);
	reply = help.reply;
	help.reply = -1;
	pthread_mutex_unlock(&help.m);
	return reply;
}

/* A few microseconds of work. */
static void run_job(int job)
{
	for (int i = 0; i < 2000; i++)
		sink += (unsigned long)job * (unsigned long)i;
}

static void finish(int job)
{
	pthread_mutex_lock(&q.m);
	q.done++;
	q.sum += job;
	pthread_mutex_unlock(&q.m);
}

static void *cond_worker(void *arg)
{
	char name[16];

	snprintf(name, sizeof(name), "worker-%d", (int)(long)arg);
	pthread_setname_np(pthread_self(), name);
	pthread_mutex_lock(&q.m);
	for (;;) {
		q.waiting++;
		pthread_cond_signal(&q.idle);
		/*
		 * At least one wait, even with a job in the slot: that job is the
		 * one woken worker's, and `waiting` (what main hands jobs on)
		 * counts no worker that could take a job without waiting for it.
		 */
		do
			pthread_cond_wait(&q.work, &q.m);
		while (!q.has_job && !q.stop);
		q.waiting--;
		if (!q.has_job)
			break;
		int job = q.job;

		q.has_job = false;
		pthread_cond_signal(&q.idle);
		pthread_mutex_unlock(&q.m);
		run_job(job);
		if (help.on && ask_helper(job) != job * 2)
			job = -1000000;
		pthread_mutex_lock(&q.m);
		q.done++;
		q.sum += job;
	}
	pthread_mutex_unlock(&q.m);
	return NULL;
}

static void run_cond(int n, int w)
{
	pthread_t th[MAX_WORKERS];
	struct timespec pause = { 0, 300000000L };

	for (int i = 0; i < w; i++)
		pthread_create(&th[i], NULL, cond_worker, (void *)(long)i);
	pthread_mutex_lock(&q.m);
	for (int i = 0; i < n; i++) {
		while (q.waiting == 0 || q.has_job)
			pthread_cond_wait(&q.idle, &q.m);
		q.job = i;
		q.has_job = true;
		pthread_cond_signal(&q.work);
	}
	while (q.done < n || q.waiting < w)
		pthread_cond_wait(&q.idle, &q.m);
	pthread_mutex_unlock(&q.m);
	nanosleep(&pause, NULL);
	pthread_mutex_lock(&q.m);
	q.stop = true;
	pthread_cond_broadcast(&q.work);
	pthread_mutex_unlock(&q.m);
	for (int i = 0; i < w; i++)
		pthread_join(th[i], NULL);
}

static void *sem_worker(void *arg)
{
	q.tids[(long)arg] = (pid_t)syscall(SYS_gettid);
	for (;;) {
		int job;

		sem_wait(&q.sem);
		pthread_mutex_lock(&q.m);
		job = q.job;
		q.has_job = false;
		pthread_mutex_unlock(&q.m);
		if (job < 0)
			break;
		run_job(job);
		finish(job);
	}
	return NULL;
}

/*
 * Until the semaphore is 0 and `alive` workers sleep on it (all that have
 * not stopped): none can then take a post without blocking for it.
 */
static void await_sleepers(int w, int alive)
{
	static const long futex[] = { SYS_futex, -1 };
	struct timespec ms = { 0, 1000000L };

	for (;;) {
		int v, asleep = 0;

		sem_getvalue(&q.sem, &v);
		for (int i = 0; v == 0 && i < w; i++)
			asleep += q.tids[i] && thread_asleep_in(q.tids[i], (long)&q.sem, futex);
		if (v == 0 && asleep >= alive)
			return;
		nanosleep(&ms, NULL);
	}
}

static void run_sem(int n, int w)
{
	pthread_t th[MAX_WORKERS];
	struct timespec ms = { 0, 1000000L };

	sem_init(&q.sem, 0, 0);
	for (int i = 0; i < w; i++)
		pthread_create(&th[i], NULL, sem_worker, (void *)(long)i);
	for (int i = 0; i <= n + w - 1; i++) {
		bool full = true;

		/* The previous job was read from the slot. */
		while (full) {
			pthread_mutex_lock(&q.m);
			full = q.has_job;
			pthread_mutex_unlock(&q.m);
			if (full)
				nanosleep(&ms, NULL);
		}
		await_sleepers(w, i < n ? w : w - (i - n));
		pthread_mutex_lock(&q.m);
		q.job = i < n ? i : -1;
		q.has_job = true;
		pthread_mutex_unlock(&q.m);
		sem_post(&q.sem);
	}
	for (int i = 0; i < w; i++)
		pthread_join(th[i], NULL);
	while (q.done < n)
		nanosleep(&ms, NULL);
}

static struct {
	int listener, ep, n;
	pid_t tid;
} srv;

static void *acceptor(void *arg)
{
	struct epoll_event ev;

	pthread_setname_np(pthread_self(), "acceptor");
	srv.tid = (pid_t)syscall(SYS_gettid);
	for (int i = 0; i < srv.n; i++) {
		char req[4];
		int c;

		while (epoll_wait(srv.ep, &ev, 1, -1) != 1)
			;
		c = accept4(srv.listener, NULL, NULL, SOCK_CLOEXEC);
		if (c < 0 || read(c, req, sizeof(req)) != (ssize_t)sizeof(req) ||
		    write(c, "done", 4) != 4)
			fprintf(stderr, "jobqueue: acceptor failed\n");
		if (c >= 0)
			close(c);
	}
	return arg;
}

static int run_epoll(int n)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	struct epoll_event ev = { .events = EPOLLIN };
	socklen_t len = sizeof(a);
	int served = 0;
	pthread_t t;

	srv.n = n;
	srv.listener = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (srv.listener < 0 || bind(srv.listener, (struct sockaddr *)&a, sizeof(a)) != 0 ||
	    listen(srv.listener, 16) != 0 ||
	    getsockname(srv.listener, (struct sockaddr *)&a, &len) != 0)
		return -1;
	srv.ep = epoll_create1(EPOLL_CLOEXEC);
	ev.data.fd = srv.listener;
	if (srv.ep < 0 || epoll_ctl(srv.ep, EPOLL_CTL_ADD, srv.listener, &ev) != 0)
		return -1;
	pthread_create(&t, NULL, acceptor, NULL);
	for (int i = 0; i < n; i++) {
		struct timespec ms = { 0, 1000000L };
		char reply[4];
		int c;

		while (!srv.tid || !thread_asleep_in_poll(srv.tid))
			nanosleep(&ms, NULL);
		c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (c < 0 || connect(c, (struct sockaddr *)&a, sizeof(a)) != 0 ||
		    write(c, "work", 4) != 4 || read(c, reply, 4) != 4)
			fprintf(stderr, "jobqueue: client failed\n");
		else
			served++;
		if (c >= 0)
			close(c);
	}
	pthread_join(t, NULL);
	close(srv.ep);
	close(srv.listener);
	return served;
}

static void *locker(void *arg)
{
	pthread_cond_t c = PTHREAD_COND_INITIALIZER;
	struct timespec ms = { 0, 1000000L }, deadline;

	pthread_setname_np(pthread_self(), "locker");
	for (int i = 0; i < 20; i++) {
		pthread_mutex_lock(&q.m);
		sink++;
		pthread_mutex_unlock(&q.m);
		nanosleep(&ms, NULL);
	}
	pthread_mutex_lock(&q.m);
	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_nsec += 20000000L;
	if (deadline.tv_nsec >= 1000000000L) {
		deadline.tv_sec++;
		deadline.tv_nsec -= 1000000000L;
	}
	while (pthread_cond_timedwait(&c, &q.m, &deadline) == 0)
		;
	pthread_mutex_unlock(&q.m);
	return arg;
}

int main(int argc, char **argv)
{
	int n = argc > 2 ? atoi(argv[2]) : 0, w = argc > 3 ? atoi(argv[3]) : 0;
	pthread_t t;

	if (argc > 1 && strcmp(argv[1], "idle") == 0) {
		pthread_create(&t, NULL, locker, NULL);
		pthread_mutex_lock(&q.m);
		sink++;
		pthread_mutex_unlock(&q.m);
		pthread_join(t, NULL);
		printf("idle done\n");
		return 0;
	}
	if (argc == 3 && strcmp(argv[1], "epoll") == 0) {
		printf("served %d\n", run_epoll(n));
		return 0;
	}
	if (argc != 4 || n < 0 || w < 1 || w > MAX_WORKERS) {
		fprintf(stderr,
			"usage: jobqueue cond|sem|inner N W | jobqueue epoll N | jobqueue idle\n");
		return 2;
	}
	if (strcmp(argv[1], "inner") == 0) {
		pthread_t h;

		struct timespec ms = { 0, 1000000L };
		bool ready = false;

		help.on = true;
		pthread_create(&h, NULL, helper, NULL);
		while (!ready) {
			pthread_mutex_lock(&help.m);
			ready = help.ready;
			pthread_mutex_unlock(&help.m);
			if (!ready)
				nanosleep(&ms, NULL);
		}
		run_cond(n, w);
		pthread_mutex_lock(&help.m);
		help.stop = true;
		pthread_cond_signal(&help.ask);
		pthread_mutex_unlock(&help.m);
		pthread_join(h, NULL);
	} else if (strcmp(argv[1], "cond") == 0) {
		run_cond(n, w);
	} else {
		run_sem(n, w);
	}
	printf("jobs %d\nsum %ld\n", q.done, q.sum);
	return q.done == n ? 0 : 1;
}
