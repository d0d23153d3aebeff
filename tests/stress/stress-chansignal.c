/*
 * Channels under a signal storm (issue 9, item 6): signal handlers that write
 * to pipes and an eventfd while the thread they interrupt is inside a read or
 * write hook, with exact accounting on both sides.
 *
 * A plain program: tests/integration/test-chanstorm.py runs it under weft
 * (LD_PRELOAD) and requires weft's channel metrics to equal the counts it
 * prints, and every wait span to be well-formed. Built with -DWEFT_CORE and
 * stress-chansignal-weft.c it is the stress suite's `chan-signal-storm` (so
 * it runs under the sanitizer builds too, which cannot preload): linked with
 * the agent, its reads and writes go through weft_chan_io as the hooks' do,
 * each thread records into its own ring, main drains the rings and checks
 * every event, and at the end the channels' counters in weft's table must
 * equal the program's counts. There a sender also runs `weft code` now and
 * then (in_weft: the guard set for 20 us, as when its ring grows): handlers
 * landing then must be counted too.
 *
 * Threads:
 * - PAIRS pairs of workers joined by two pipes each: one writes a length and
 *   a payload (sometimes larger than the pipe, so writes block and come back
 *   short when interrupted), the other reads it all, checks every byte and
 *   answers one byte: both block in read constantly (WAIT events), and write.
 * - A storm thread sends the workers SIGUSR1 (SA_RESTART) and SIGUSR2 (no
 *   SA_RESTART: blocked reads and writes fail with EINTR, or come back short,
 *   which the workers handle as programs must) in a tight loop, and a timer
 *   sends the process SIGALRM (SA_RESTART) every 100 us.
 * - Every handler writes 1 byte to a self-pipe (non-blocking write end) and
 *   adds 1 to an eventfd, as the self-pipe trick does (the senders do too,
 *   each round, so handlers interrupt writes to the same queue as well);
 *   SIGUSR1 and SIGUSR2 also write a few bytes to `hpipe`, a small pipe with
 *   a blocking write end that a slow drainer empties, so handlers block in
 *   write (a WAIT recorded from the handler, over whatever the interrupted
 *   frame was recording).
 * - Three drainers read the self-pipe, the eventfd and hpipe (blocking reads).
 *
 * Every transfer that moved bytes is counted by the thread or handler that
 * made it (atomics), per channel and direction: bytes and calls. At the end
 * the handlers are switched off, end markers are written, the drainers read
 * to them, and the program prints, per channel,
 *
 *	chan <name> <fd0> <fd1> <tx bytes> <tx calls> <rx bytes> <rx calls>
 *
 * with <name> the name weft gives the channel, then `eintr`, `signals`,
 * `rounds` (the pairs' exchanges) and `done`. It fails (exit 1, FAILED line) if a payload byte is
 *wrong, if bytes written and read differ on a channel, or if no call saw EINTR. Runs
 * WEFT_STRESS_SECONDS (default 1, fractional allowed).
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "tests/stress/stress-chansignal.h"

#define CREATOR __attribute__((noinline, visibility("default")))

struct chan;
void make_self_pipe(struct chan *c);
void make_eventfd(struct chan *c);
void make_hpipe(struct chan *c);
void make_pair(struct chan *c, int n);

enum { BIG = 100000, HPIPE_SIZE = 4096, END_EFD = 1, MIN_ROUNDS = 400 };

struct chan self_pipe, efd, hpipe, pair_pipe[PAIRS][2];
static _Atomic uint64_t eintr_seen, signals_handled, in_handler, efd_units_in, efd_units_out;
static _Atomic uint64_t rounds; /* the pairs' exchanges so far */
static atomic_bool stop, handlers_off;
static pthread_t workers[PAIRS][2];

void fail(const char *what)
{
	printf("FAILED: %s (errno %d)\n", what, errno);
	fflush(stdout);
	exit(1);
}

static void counted(struct chan *c, int rx, ssize_t n)
{
	if (n <= 0)
		return;
	atomic_fetch_add(rx ? &c->rx_bytes : &c->tx_bytes, (uint64_t)n);
	atomic_fetch_add(rx ? &c->rx_calls : &c->tx_calls, 1);
}

/* ------------------------------------------------------------ native stand-ins */

#ifndef WEFT_CORE
void observed(void)
{
}

void in_weft(void)
{
}

void run_for(double secs)
{
	struct timespec run = { (time_t)secs, (long)((secs - (time_t)secs) * 1e9) };

	while (nanosleep(&run, &run) != 0)
		;
}

void check_weft(void)
{
}
#endif

/* ------------------------------------------------------------ channels */

CREATOR void make_self_pipe(struct chan *c)
{
	if (pipe(c->fd) != 0)
		fail("pipe");
	CREATED(c->fd, 2, false);
	/* The trick: a handler must never block on its own pipe. */
	if (fcntl(c->fd[1], F_SETFL, O_NONBLOCK) != 0)
		fail("fcntl O_NONBLOCK");
	snprintf(c->name, sizeof(c->name), "pipe:make_self_pipe#1");
}

CREATOR void make_eventfd(struct chan *c)
{
	c->fd[0] = c->fd[1] = eventfd(0, 0);
	if (c->fd[0] < 0)
		fail("eventfd");
	CREATED(c->fd, 1, true);
	snprintf(c->name, sizeof(c->name), "eventfd:make_eventfd#1");
}

CREATOR void make_hpipe(struct chan *c)
{
	int size;

	if (pipe(c->fd) != 0)
		fail("pipe");
	CREATED(c->fd, 2, false);
	if ((size = fcntl(c->fd[1], F_SETPIPE_SZ, HPIPE_SIZE)) < 0)
		fail("F_SETPIPE_SZ");
	RESIZED(c->fd[1], size);
	snprintf(c->name, sizeof(c->name), "pipe:make_hpipe#1");
}

CREATOR void make_pair(struct chan *c, int n)
{
	if (pipe(c->fd) != 0)
		fail("pipe");
	CREATED(c->fd, 2, false);
	snprintf(c->name, sizeof(c->name), "pipe:make_pair#%d", n);
}

/* ------------------------------------------------------------ handlers */

/* The self-pipe trick: 1 byte and an eventfd increment, counted; a full pipe takes none. */
static void notify(void)
{
	uint64_t one = 1;

	counted(&self_pipe, 0, WRITE(self_pipe.fd[1], "s", 1));
	if (WRITE(efd.fd[1], &one, sizeof(one)) == sizeof(one)) {
		counted(&efd, 0, sizeof(one));
		atomic_fetch_add(&efd_units_in, one);
	}
}

/* The handler: notify, and for the workers' signals a write to hpipe; errno kept. */
static void on_signal(int sig)
{
	int saved = errno;

	atomic_fetch_add(&in_handler, 1);
	if (!atomic_load(&handlers_off)) {
		notify();
		if (sig != SIGALRM) {
			static const char h[16] = "hhhhhhhhhhhhhhhh";
			/* Blocks when the slow drainer is behind; SIGUSR2 may end it (EINTR). */
			counted(&hpipe, 0, WRITE(hpipe.fd[1], h, 1 + (size_t)(sig & 7)));
		}
		atomic_fetch_add(&signals_handled, 1);
	}
	atomic_fetch_sub(&in_handler, 1);
	errno = saved;
}

static void handle(int sig, int flags)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sa.sa_flags = flags;
	sigemptyset(&sa.sa_mask);
	if (sigaction(sig, &sa, NULL) != 0)
		fail("sigaction");
}

static void ignore(int sig)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_IGN;
	if (sigaction(sig, &sa, NULL) != 0)
		fail("sigaction SIG_IGN");
}

static void block_signals(void)
{
	sigset_t s;

	sigemptyset(&s);
	sigaddset(&s, SIGUSR1);
	sigaddset(&s, SIGUSR2);
	sigaddset(&s, SIGALRM);
	pthread_sigmask(SIG_BLOCK, &s, NULL);
}

/* ------------------------------------------------------------ workers */

/* All of buf, however the calls come back (short, EINTR); counted per call. */
static void write_all(struct chan *c, const void *buf, size_t n)
{
	const char *p = buf;

	while (n) {
		ssize_t w = WRITE(c->fd[1], p, n);

		if (w < 0 && errno == EINTR) {
			atomic_fetch_add(&eintr_seen, 1);
			continue;
		}
		if (w <= 0)
			fail("write");
		counted(c, 0, w);
		p += w;
		n -= (size_t)w;
	}
}

static void read_all(struct chan *c, void *buf, size_t n)
{
	char *p = buf;

	while (n) {
		ssize_t r = READ(c->fd[0], p, n);

		if (r < 0 && errno == EINTR) {
			atomic_fetch_add(&eintr_seen, 1);
			continue;
		}
		if (r <= 0)
			fail("read");
		counted(c, 1, r);
		p += r;
		n -= (size_t)r;
	}
}

static char *buffer(void)
{
	char *b = malloc(BIG);

	if (!b)
		fail("malloc");
	return b;
}

/* Sends rounds to its partner: a length, a payload, then waits for the 1-byte answer. */
static void *sender(void *arg)
{
	int i = (int)(intptr_t)arg;
	char *b = buffer(), ack;

	observed();

	for (uint32_t round = 1;; round++) {
		uint32_t len = atomic_load(&stop) ? 0 : (round % 64 == 0 ? BIG : 1 + round % 300);

		for (uint32_t j = 0; j < len; j++)
			b[j] = (char)(round + j);
		write_all(&pair_pipe[i][0], &len, sizeof(len));
		if (!len)
			break;
		write_all(&pair_pipe[i][0], b, len);
		/* The senders notify too: handlers then also nest in writes to the same queues. */
		notify();
		if (round % 4 == 0)
			in_weft();
		read_all(&pair_pipe[i][1], &ack, 1);
		if (ack != (char)round)
			fail("answer");
		atomic_fetch_add(&rounds, 1);
	}
	free(b);
	return NULL;
}

static void *receiver(void *arg)
{
	int i = (int)(intptr_t)arg;
	char *b = buffer(), ack;

	observed();

	for (uint32_t round = 1;; round++) {
		uint32_t len;

		read_all(&pair_pipe[i][0], &len, sizeof(len));
		if (!len)
			break;
		if (len > BIG)
			fail("length");
		read_all(&pair_pipe[i][0], b, len);
		for (uint32_t j = 0; j < len; j++)
			if (b[j] != (char)(round + j))
				fail("payload byte");
		ack = (char)round;
		write_all(&pair_pipe[i][1], &ack, 1);
	}
	free(b);
	return NULL;
}

/* ------------------------------------------------------------ drainers */

/* Reads the pipe until the end marker 'E' (written once every handler is off). */
static void *drain_pipe(void *arg)
{
	struct chan *c = arg;
	char b[256];
	int slow = c == &hpipe;

	observed();
	block_signals();
	for (;;) {
		ssize_t r = READ(c->fd[0], b, slow ? 64 : sizeof(b));

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			fail("drain read");
		counted(c, 1, r);
		if (b[r - 1] == 'E')
			break;
		if (slow) {
			struct timespec ts = { 0, 100000 };

			nanosleep(&ts, NULL);
		}
	}
	return NULL;
}

static void *drain_eventfd(void *arg)
{
	uint64_t v;

	(void)arg;
	observed();
	block_signals();
	for (;;) {
		ssize_t r = READ(efd.fd[0], &v, sizeof(v));

		if (r < 0 && errno == EINTR)
			continue;
		if (r != sizeof(v))
			fail("eventfd read");
		counted(&efd, 1, r);
		atomic_fetch_add(&efd_units_out, v);
		if (v >= (uint64_t)END_EFD << 40)
			break;
	}
	return NULL;
}

/* ------------------------------------------------------------ the storm */

static void *storm(void *arg)
{
	unsigned n = 0;

	(void)arg;
	block_signals();
	while (!atomic_load(&stop)) {
		int i = (int)(n % PAIRS), side = (int)(n / PAIRS % 2);

		pthread_kill(workers[i][side], n / 4 % 2 ? SIGUSR2 : SIGUSR1);
		if (++n % 8 == 0) {
			struct timespec ts = { 0, 20000 };

			nanosleep(&ts, NULL);
		}
	}
	return NULL;
}

static double seconds(void)
{
	const char *s = getenv("WEFT_STRESS_SECONDS");
	double v = s ? atof(s) : 0;

	return v > 0 ? v : 1.0;
}

static void print_chan(const struct chan *c)
{
	printf("chan %s %d %d %llu %llu %llu %llu\n", c->name, c->fd[0], c->fd[1],
	       (unsigned long long)c->tx_bytes, (unsigned long long)c->tx_calls,
	       (unsigned long long)c->rx_bytes, (unsigned long long)c->rx_calls);
	/* An eventfd read takes the sum of many writes: its units are checked in main. */
	if (c != &efd && c->tx_bytes != c->rx_bytes)
		fail("bytes written and read differ");
}

int main(void)
{
	pthread_t drainers[3], storm_th;
	struct itimerval it = { { 0, 100 }, { 0, 100 } }, off = { { 0, 0 }, { 0, 0 } };
	uint64_t marker = (uint64_t)END_EFD << 40;
	int k = 1;

	setvbuf(stdout, NULL, _IOLBF, 0);
	make_self_pipe(&self_pipe);
	make_eventfd(&efd);
	make_hpipe(&hpipe);
	for (int i = 0; i < PAIRS; i++)
		for (int j = 0; j < 2; j++)
			make_pair(&pair_pipe[i][j], k++);
	handle(SIGUSR1, SA_RESTART);
	handle(SIGUSR2, 0);
	handle(SIGALRM, SA_RESTART);

	if (pthread_create(&drainers[0], NULL, drain_pipe, &self_pipe) ||
	    pthread_create(&drainers[1], NULL, drain_eventfd, NULL) ||
	    pthread_create(&drainers[2], NULL, drain_pipe, &hpipe))
		fail("pthread_create drainer");
	for (int i = 0; i < PAIRS; i++)
		if (pthread_create(&workers[i][0], NULL, sender, (void *)(intptr_t)i) ||
		    pthread_create(&workers[i][1], NULL, receiver, (void *)(intptr_t)i))
			fail("pthread_create worker");
	block_signals(); /* main only waits: the timer's signals go to the others */
	if (pthread_create(&storm_th, NULL, storm, NULL))
		fail("pthread_create storm");
	if (setitimer(ITIMER_REAL, &it, NULL) != 0)
		fail("setitimer");

	/*
	 * The time asked for, and on a loaded machine longer (up to ten times),
	 * until the pairs have exchanged enough under the storm.
	 */
	for (double left = seconds() * 10, step = seconds(); left > 0; left -= step, step = 0.1) {
		run_for(step);
		if (atomic_load(&rounds) >= MIN_ROUNDS)
			break;
	}
	atomic_store(&stop, true);
	pthread_join(storm_th, NULL);
	for (int i = 0; i < PAIRS; i++)
		for (int j = 0; j < 2; j++)
			pthread_join(workers[i][j], NULL);
	setitimer(ITIMER_REAL, &off, NULL);

	/* No handler from now on: ignored signals are discarded, running ones end. */
	atomic_store(&handlers_off, true);
	ignore(SIGUSR1);
	ignore(SIGUSR2);
	ignore(SIGALRM);
	while (atomic_load(&in_handler))
		sched_yield();
	while (WRITE(self_pipe.fd[1], "E", 1) != 1)
		sched_yield(); /* the non-blocking end may be full */
	counted(&self_pipe, 0, 1);
	if (WRITE(efd.fd[1], &marker, sizeof(marker)) != sizeof(marker))
		fail("eventfd write");
	counted(&efd, 0, sizeof(marker));
	atomic_fetch_add(&efd_units_in, marker);
	counted(&hpipe, 0, WRITE(hpipe.fd[1], "E", 1));
	for (int i = 0; i < 3; i++)
		pthread_join(drainers[i], NULL);

	print_chan(&self_pipe);
	print_chan(&efd);
	print_chan(&hpipe);
	for (int i = 0; i < PAIRS; i++)
		for (int j = 0; j < 2; j++)
			print_chan(&pair_pipe[i][j]);
	if (efd_units_in != efd_units_out)
		fail("eventfd: units added and read differ");
	printf("eintr %llu\nsignals %llu\nrounds %llu\n", (unsigned long long)eintr_seen,
	       (unsigned long long)signals_handled, (unsigned long long)rounds);
	if (!eintr_seen)
		fail("no call was interrupted: the storm proved nothing");
	check_weft();
	printf("done\n");
	return 0;
}
