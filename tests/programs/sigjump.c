/*
 * Calls left from a signal handler, for tests/integration/test-sigjump.py.
 *
 * A thread named `jumper` repeats one kind of call without pause while main
 * interrupts it with SIGUSR1 every 20 us for MS milliseconds; the handler
 * siglongjmps back into the thread's loop, wherever the call was: in the
 * kernel, or in the hook around it. Every call here is async-signal-safe,
 * so leaving it from a handler is allowed (POSIX), and a program that times
 * out a blocking read with alarm() and siglongjmp does exactly this. Then
 * main makes each kind of call itself, starts and joins a thread, and prints
 * `jumps N` (the jumps), `left N` (those that left the call: the signal
 * came while the loop was inside it) and `done 1`. Under weft nothing may
 * hang or fail: a lock, a guard or a count left half changed by the jump
 * would show here.
 *
 *   sigjump MODE MS [BUSY_MS]
 *
 * After the storm the jumper sleeps 50 times for 1 ms (50 waits weft must
 * record, whatever its jumps left behind); with BUSY_MS, it then computes
 * for BUSY_MS milliseconds, making no call at all, before it returns: a
 * thread that is not blocked, whatever wait it left with a jump.
 *
 *   redirect   dup2 /dev/null onto 2 and back
 *   pipe       write a byte into a pipe and read one out (never blocks)
 *   block      read from an empty pipe: blocks until the signal comes
 *   sleep      nanosleep 10 us
 *   poll       poll an empty pipe for 50 us
 *   create     pipe(), then close both ends (a pair left open by a jump
 *              is closed when the loop is entered again)
 *   eventfd    write 1 to an eventfd and read it back
 *
 *   sigjump setid
 *
 * No storm: with a thread started (and so weft's exporter), setgid and
 * setuid to the ids the process has; glibc makes them process-wide by
 * signalling every thread, weft's too, and waiting for each. Prints `done 1`.
 *
 *   sigjump deadframe
 *
 * A bug _FORTIFY_SOURCE catches: __longjmp_chk (what longjmp becomes in a
 * fortified build) to an environment saved in a frame that has returned.
 * glibc aborts ("longjmp causes uninitialized stack frame"): SIGABRT, under
 * weft as natively (weft's hook makes the real call from the caller's frame).
 *
 *   sigjump altlocal
 *
 * A jump that leaves nothing: main blocks in a read (SA_RESTART) while a
 * handler on an alternate stack, which lives in main's frame above the
 * read's, jumps within itself (a setjmp and longjmp of its own); then a
 * thread writes the byte the read waits for. Prints `read 1`, `handled 1`,
 * when the signal was sent and the byte written (`signalled NS`, `writing
 * NS`, CLOCK_REALTIME) and `done 1`: one wait, on view throughout, which
 * ended when the byte came.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

static sigjmp_buf jump_back;
static atomic_long jumps, left;
static volatile sig_atomic_t in_call;
static atomic_bool running = true, landing_set;
static int busy_ms;
static int keep_fd, null_fd, busy[2], empty[2], efd;
static volatile int made[2] = { -1, -1 };

static void jump_out(int sig)
{
	(void)sig;
	atomic_fetch_add(&jumps, 1);
	if (in_call)
		atomic_fetch_add(&left, 1);
	in_call = 0;
	siglongjmp(jump_back, 1);
}

/* One call of each mode's kind (or two: a write and the read of it). */
static void call_redirect(void)
{
	dup2(null_fd, 2);
	dup2(keep_fd, 2);
}

static void call_pipe(void)
{
	char c = 'x';

	(void)!write(busy[1], &c, 1);
	(void)!read(busy[0], &c, 1);
}

static void call_block(void)
{
	char c;

	(void)!read(empty[0], &c, 1);
}

static void call_sleep(void)
{
	struct timespec ten_us = { 0, 10 * 1000 };

	nanosleep(&ten_us, NULL);
}

static void call_poll(void)
{
	struct timespec fifty_us = { 0, 50 * 1000 };
	struct pollfd p = { .fd = empty[0], .events = POLLIN };

	ppoll(&p, 1, &fifty_us, NULL);
}

static void call_create(void)
{
	int q[2];

	if (pipe(q) == 0) {
		made[0] = q[0];
		made[1] = q[1];
		close(q[0]);
		close(q[1]);
		made[0] = made[1] = -1;
	}
}

static void call_eventfd(void)
{
	uint64_t v = 1;

	(void)!write(efd, &v, sizeof(v));
	(void)!read(efd, &v, sizeof(v));
}

static const struct {
	const char *name;
	void (*call)(void);
} modes[] = {
	{ "redirect", call_redirect }, { "pipe", call_pipe }, { "block", call_block },
	{ "sleep", call_sleep },       { "poll", call_poll }, { "create", call_create },
	{ "eventfd", call_eventfd },
};

static void (*one_call)(void);

static long ms_since(const struct timespec *start)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (now.tv_sec - start->tv_sec) * 1000 + (now.tv_nsec - start->tv_nsec) / 1000000;
}

static void *jumper(void *arg)
{
	sigset_t usr1;
	struct timespec start;
	volatile uint64_t x = 1;

	(void)arg;
	pthread_setname_np(pthread_self(), "jumper");
	sigemptyset(&usr1);
	sigaddset(&usr1, SIGUSR1);
	sigsetjmp(jump_back, 1); /* a jump lands here, with SIGUSR1 unblocked again */
	for (int i = 0; i < 2; i++) {
		if (made[i] >= 0)
			close(made[i]);
		made[i] = -1;
	}
	atomic_store(&landing_set, true);
	while (atomic_load(&running)) {
		in_call = 1;
		one_call();
		in_call = 0;
	}
	/* A signal still on its way jumps back into this frame, not a dead one. */
	pthread_sigmask(SIG_BLOCK, &usr1, NULL);
	for (int i = 0; i < 50; i++) {
		struct timespec one_ms = { 0, 1000 * 1000 };

		nanosleep(&one_ms, NULL);
	}
	clock_gettime(CLOCK_MONOTONIC, &start); /* vDSO: no system call */
	while (ms_since(&start) < busy_ms)
		for (int i = 0; i < 100000; i++)
			x = x * 6364136223846793005u + 1;
	return NULL;
}

static void *nothing(void *arg)
{
	return arg;
}

/* What longjmp becomes under _FORTIFY_SOURCE; no header declares it otherwise. */
void __longjmp_chk(struct __jmp_buf_tag env[1], int val) __attribute__((noreturn));

static jmp_buf dead;

/* Saves an environment in a frame that then returns. */
__attribute__((noinline)) static int set_in_returning_frame(void)
{
	volatile char pad[64];

	memset((char *)pad, 0, sizeof(pad));
	if (setjmp(dead))
		return 1;
	return pad[1];
}

/* sigjump deadframe (see the top): never returns. */
static int deadframe(void)
{
	if (set_in_returning_frame() == 0)
		__longjmp_chk(dead, 1);
	printf("returned into a dead frame\n");
	return 0;
}

static volatile sig_atomic_t handled;
static pthread_t main_thread;
static long long signalled_ns, writing_ns; /* CLOCK_REALTIME */

static long long realtime_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void jump_within(int sig)
{
	jmp_buf local;

	(void)sig;
	if (!setjmp(local))
		longjmp(local, 1);
	handled++;
}

static void *signal_then_write(void *arg)
{
	struct timespec ms100 = { 0, 100 * 1000 * 1000 };

	(void)arg;
	nanosleep(&ms100, NULL);
	pthread_kill(main_thread, SIGUSR1);
	signalled_ns = realtime_ns();
	nanosleep(&ms100, NULL);
	writing_ns = realtime_ns();
	(void)!write(empty[1], "x", 1);
	return NULL;
}

/* sigjump altlocal (see the top). */
static int altlocal(void)
{
	char here[65536] __attribute__((aligned(16)));
	stack_t ss = { .ss_sp = here, .ss_size = sizeof(here) };
	struct sigaction sa = { .sa_handler = jump_within, .sa_flags = SA_ONSTACK | SA_RESTART };
	pthread_t t;
	ssize_t n;
	char c;

	if (pipe(empty) != 0 || sigaltstack(&ss, NULL) != 0) {
		perror("sigjump: altlocal");
		return 1;
	}
	sigemptyset(&sa.sa_mask);
	sigaction(SIGUSR1, &sa, NULL);
	main_thread = pthread_self();
	pthread_create(&t, NULL, signal_then_write, NULL);
	n = read(empty[0], &c, 1);
	pthread_join(t, NULL);
	printf("read %zd\nhandled %d\nsignalled %lld\nwriting %lld\ndone 1\n", n, (int)handled,
	       signalled_ns, writing_ns);
	return 0;
}

int main(int argc, char **argv)
{
	struct sigaction sa = { .sa_handler = jump_out };
	struct timespec pause = { 0, 20 * 1000 }, start;
	const char *mode;
	pthread_t t;
	int ms;

	if (argc == 2 && strcmp(argv[1], "altlocal") == 0)
		return altlocal();
	if (argc == 2 && strcmp(argv[1], "deadframe") == 0)
		return deadframe();
	if (argc == 2 && strcmp(argv[1], "setid") == 0) {
		pthread_create(&t, NULL, nothing, NULL);
		pthread_join(t, NULL);
		if (setgid(getgid()) != 0 || setuid(getuid()) != 0) {
			perror("sigjump: setid");
			return 1;
		}
		printf("done 1\n");
		return 0;
	}
	mode = argc > 2 ? argv[1] : "";
	ms = argc > 2 ? atoi(argv[2]) : 0;
	busy_ms = argc > 3 ? atoi(argv[3]) : 0;
	for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++)
		if (strcmp(mode, modes[i].name) == 0)
			one_call = modes[i].call;
	if (!one_call || ms <= 0) {
		fprintf(stderr, "usage: sigjump redirect|pipe|block|sleep|poll|create|eventfd MS "
				"[BUSY_MS] | setid | altlocal | deadframe\n");
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	keep_fd = dup(2);
	null_fd = open("/dev/null", O_WRONLY);
	efd = eventfd(0, 0);
	if (keep_fd < 0 || null_fd < 0 || efd < 0 || pipe(busy) != 0 || pipe(empty) != 0) {
		perror("sigjump: set-up");
		return 1;
	}
	sigemptyset(&sa.sa_mask);
	sigaction(SIGUSR1, &sa, NULL);
	pthread_create(&t, NULL, jumper, NULL);
	while (!atomic_load(&landing_set))
		sched_yield();
	clock_gettime(CLOCK_MONOTONIC, &start);
	while (ms_since(&start) < ms) {
		pthread_kill(t, SIGUSR1);
		nanosleep(&pause, NULL);
	}
	/* Blocked (mode block) or in the handler, the thread jumps back and sees the flag. */
	atomic_store(&running, false);
	pthread_kill(t, SIGUSR1);
	pthread_join(t, NULL);

	/* Every kind of call once more, on main, and a thread. */
	{
		char c = 'y';
		uint64_t v = 2;

		dup2(null_fd, 2);
		dup2(keep_fd, 2);
		if (write(empty[1], &c, 1) != 1 || read(empty[0], &c, 1) != 1 || c != 'y' ||
		    write(efd, &v, sizeof(v)) != sizeof(v)) {
			perror("sigjump: after");
			return 1;
		}
		nanosleep(&pause, NULL);
		close(busy[0]);
		close(busy[1]);
		close(empty[0]);
		close(empty[1]);
		close(efd);
		pthread_create(&t, NULL, nothing, NULL);
		pthread_join(t, NULL);
	}
	printf("jumps %ld\nleft %ld\ndone 1\n", atomic_load(&jumps), atomic_load(&left));
	return 0;
}
