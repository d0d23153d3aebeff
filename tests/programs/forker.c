/*
 * fork from a non-main thread: the child starts two threads and exits with
 * exit(); the parent waits for it. With `busy`, forks many times while other
 * threads churn (and the exporter is flushing often), to show that a fork in
 * the middle of an export never deadlocks the child.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static void *child_work(void *arg)
{
	return arg;
}

static int child_main(void)
{
	pthread_t a, b;

	pthread_create(&a, NULL, child_work, NULL);
	pthread_create(&b, NULL, child_work, NULL);
	pthread_join(a, NULL);
	pthread_join(b, NULL);
	return 0;
}

static int fork_and_wait(void)
{
	int status;
	pid_t pid = fork();

	if (pid < 0)
		return -1;
	if (pid == 0)
		exit(child_main());
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
		return -1;
	return 0;
}

static void *forking_thread(void *arg)
{
	(void)arg;
	return (void *)(long)fork_and_wait();
}

static volatile int stop;

static void *churn(void *arg)
{
	while (!stop) {
		pthread_t t;
		pthread_create(&t, NULL, child_work, NULL);
		pthread_join(t, NULL);
	}
	return arg;
}

int main(int argc, char **argv)
{
	pthread_t t, c;
	void *ret;

	if (argc > 1 && strcmp(argv[1], "busy") == 0) {
		int n = argc > 2 ? atoi(argv[2]) : 50;
		pthread_create(&c, NULL, churn, NULL);
		for (int i = 0; i < n; i++)
			if (fork_and_wait() < 0)
				return 1;
		stop = 1;
		pthread_join(c, NULL);
		return 0;
	}
	pthread_create(&t, NULL, forking_thread, NULL);
	pthread_join(t, &ret);
	return ret == NULL ? 0 : 1;
}
