/*
 * Processes that start processes, for tests/integration/test-process.py: the
 * child's `process` span must be a child of the span that started it.
 *
 *   spawner           a thread named `launcher` posix_spawns `spawner child
 *                     spawned` and waits for it; then forks a child that
 *                     execs `spawner child forked` at once, and waits, and
 *                     the same with vfork (`vforked`); then runs `spawner
 *                     child system` with system(), and `spawner child popen`
 *                     with popen() (reading its line); then the main thread
 *                     posix_spawnps `spawner child main`.
 *                     Last, it execs `spawner child replaced`: its own image
 *                     ends (its telemetry exported first) and the new one
 *                     continues the trace from the main thread's span.
 *   spawner child X   prints "child X PID" and exits 0.
 *
 * Prints "spawned LABEL PID" per child it knows the pid of, so the test can
 * find each one's output; the shells' children print theirs ("child system
 * PID", "popen read: child popen PID").
 */
#include <pthread.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;
static const char *self;

static void wait_for(pid_t pid, const char *label)
{
	int status;

	if (pid <= 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
	    WEXITSTATUS(status) != 0)
		fprintf(stderr, "spawner: %s failed\n", label);
	printf("spawned %s %d\n", label, (int)pid);
}

/* system() and popen() start a shell, which runs this program in child mode. */
static void run_shells(void)
{
	char cmd[4200], line[256];
	FILE *f;

	snprintf(cmd, sizeof(cmd), "'%s' child system", self);
	if (system(cmd) != 0)
		fprintf(stderr, "spawner: system failed\n");
	snprintf(cmd, sizeof(cmd), "'%s' child popen", self);
	f = popen(cmd, "r");
	if (!f || !fgets(line, sizeof(line), f) || pclose(f) != 0)
		fprintf(stderr, "spawner: popen failed\n");
	else
		printf("popen read: %s", line);
}

static void *launcher(void *arg)
{
	char *spawned[] = { (char *)self, "child", "spawned", NULL };
	pid_t pid;

	pthread_setname_np(pthread_self(), "launcher");
	if (posix_spawn(&pid, self, NULL, NULL, spawned, environ) != 0)
		pid = -1;
	wait_for(pid, "spawned");
	pid = fork();
	if (pid == 0) {
		char *forked[] = { (char *)self, "child", "forked", NULL };

		execv(self, forked);
		_exit(127);
	}
	wait_for(pid, "forked");
	pid = vfork();
	if (pid == 0) {
		char *vforked[] = { (char *)self, "child", "vforked", NULL };

		execv(self, vforked);
		_exit(127);
	}
	wait_for(pid, "vforked");
	run_shells();
	return NULL;
}

int main(int argc, char **argv)
{
	char *main_child[] = { "spawner", "child", "main", NULL };
	char *replaced[] = { argv[0], "child", "replaced", NULL };
	pthread_t t;
	pid_t pid;

	self = argv[0];
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc > 2 && strcmp(argv[1], "child") == 0) {
		printf("child %s %d\n", argv[2], (int)getpid());
		return 0;
	}
	pthread_create(&t, NULL, launcher, NULL);
	pthread_join(t, NULL);
	if (posix_spawnp(&pid, self, NULL, NULL, main_child, environ) != 0)
		pid = -1;
	wait_for(pid, "main");
	printf("replacing %d\n", (int)getpid());
	execv(self, replaced);
	return 127;
}
