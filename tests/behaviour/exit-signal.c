/*
 * exit() from a signal handler while other threads create, name and join
 * threads. The handler may interrupt any thread anywhere — inside
 * pthread_create, inside weft's hooks, inside weft's private allocator — and
 * the process must still end promptly with the handler's status. Prints
 * nothing; exits 3 from the handler. Usage: exit-signal [milliseconds] [creators]
 */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

static void on_signal(int sig)
{
	exit(3); /* not async-signal-safe, and programs do it */
}

static void *named(void *arg)
{
	pthread_setname_np(pthread_self(), "leaf");
	return arg;
}

static void *creator(void *arg)
{
	for (;;) {
		pthread_t t;

		if (pthread_create(&t, NULL, named, NULL) == 0) {
			pthread_setname_np(t, "leaf-named");
			pthread_join(t, NULL);
		}
	}
	return NULL;
}

int main(int argc, char **argv)
{
	long ms = argc > 1 ? atol(argv[1]) : 50;
	int creators = argc > 2 ? atoi(argv[2]) : 4;
	struct sigaction sa = { .sa_handler = on_signal };
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L };
	pthread_t t;

	sigemptyset(&sa.sa_mask);
	sigaction(SIGUSR1, &sa, NULL);
	for (int i = 0; i < creators; i++)
		if (pthread_create(&t, NULL, creator, NULL) != 0)
			return 2;
	nanosleep(&ts, NULL);
	/* Process-directed: the kernel picks the thread that runs the handler. */
	kill(getpid(), SIGUSR1);
	for (;;)
		pause();
}
