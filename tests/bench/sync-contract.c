/*
 * The contract of the calls bench-sync measures, natively and under weft.
 *
 * The lock hooks' fast paths are tuned against bench-sync (a mutex whose
 * lock word reads 0 is locked directly, every other one is tried first; the
 * unlock hook only tests for a sampled hold). This test runs the same checks
 * natively and with LD_PRELOAD=libweft.so and requires identical output:
 * each mutex type's results and errno (normal, errorcheck, recursive,
 * priority-protect — whose lock word is not 0 when free — and robust with a
 * dead owner), a lock that must block until another thread unlocks, a
 * contended counter that must come out exact, and condition-variable hand-offs.
 * With WEFT_HOLD_SAMPLE=1 under weft every acquisition is a sampled hold, so
 * that the unlock hook's out-of-line path runs on every unlock too.
 *
 *   sync-contract path/to/libweft.so
 */
#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define SENTINEL 1234

static void show(const char *what, int rc)
{
	int e = errno;

	printf("%s: %s errno=%s\n", what, rc == 0 ? "0" : strerror(rc),
	       e == SENTINEL ? "kept" : strerror(e));
}

#define CALL(what, expr)                                                                           \
	do {                                                                                       \
		int rc_;                                                                           \
		errno = SENTINEL;                                                                  \
		rc_ = (expr);                                                                      \
		show((what), rc_);                                                                 \
	} while (0)

static void typed(const char *name, int type)
{
	pthread_mutexattr_t a;
	pthread_mutex_t m;
	char what[64];

	pthread_mutexattr_init(&a);
	pthread_mutexattr_settype(&a, type);
	pthread_mutex_init(&m, &a);
	snprintf(what, sizeof(what), "%s lock", name);
	CALL(what, pthread_mutex_lock(&m));
	snprintf(what, sizeof(what), "%s trylock held", name);
	CALL(what, pthread_mutex_trylock(&m));
	if (type != PTHREAD_MUTEX_NORMAL) {
		snprintf(what, sizeof(what), "%s relock", name);
		CALL(what, pthread_mutex_lock(&m));
	}
	snprintf(what, sizeof(what), "%s unlock", name);
	CALL(what, pthread_mutex_unlock(&m));
	if (type == PTHREAD_MUTEX_RECURSIVE) {
		CALL("recursive unlock 2", pthread_mutex_unlock(&m));
		CALL("recursive unlock 3", pthread_mutex_unlock(&m));
	}
	if (type != PTHREAD_MUTEX_NORMAL) {
		snprintf(what, sizeof(what), "%s unlock unowned", name);
		CALL(what, pthread_mutex_unlock(&m));
	}
	pthread_mutex_destroy(&m);
	pthread_mutexattr_destroy(&a);
}

static void priority_protect(void)
{
	pthread_mutexattr_t a;
	pthread_mutex_t m;

	pthread_mutexattr_init(&a);
	pthread_mutexattr_setprotocol(&a, PTHREAD_PRIO_PROTECT);
	pthread_mutexattr_setprioceiling(&a, sched_get_priority_min(SCHED_FIFO));
	if (pthread_mutex_init(&m, &a) != 0) {
		printf("priority-protect: no\n");
		return;
	}
	printf("priority-protect lock word free: %s\n", m.__data.__lock != 0 ? "not 0" : "0");
	CALL("priority-protect lock", pthread_mutex_lock(&m));
	CALL("priority-protect unlock", pthread_mutex_unlock(&m));
	pthread_mutex_destroy(&m);
}

static pthread_mutex_t robust;

static void *die_holding(void *arg)
{
	pthread_mutex_lock(&robust);
	return arg;
}

static void robust_dead_owner(void)
{
	pthread_mutexattr_t a;
	pthread_t t;

	pthread_mutexattr_init(&a);
	pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST);
	pthread_mutex_init(&robust, &a);
	pthread_create(&t, NULL, die_holding, NULL);
	pthread_join(t, NULL);
	CALL("robust lock dead owner", pthread_mutex_lock(&robust));
	CALL("robust consistent", pthread_mutex_consistent(&robust));
	CALL("robust unlock", pthread_mutex_unlock(&robust));
	CALL("robust lock again", pthread_mutex_lock(&robust));
	CALL("robust unlock again", pthread_mutex_unlock(&robust));
}

static pthread_mutex_t held = PTHREAD_MUTEX_INITIALIZER;

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* Posted by the waiter just before it locks: the holder's 50 ms start then. */
static sem_t about_to_lock;

static void *wait_for_held(void *arg)
{
	double t0 = now_ms();

	sem_post(&about_to_lock);
	errno = SENTINEL;
	*(int *)arg = pthread_mutex_lock(&held);
	show("contended lock", *(int *)arg);
	printf("contended lock blocked until the unlock: %s\n", now_ms() - t0 >= 40 ? "yes" : "no");
	pthread_mutex_unlock(&held);
	return NULL;
}

static void blocking(void)
{
	pthread_t t;
	int rc = -1;

	sem_init(&about_to_lock, 0, 0);
	pthread_mutex_lock(&held);
	pthread_create(&t, NULL, wait_for_held, &rc);
	/* However late the waiter is scheduled (a loaded machine), it is waiting. */
	while (sem_wait(&about_to_lock) != 0)
		;
	usleep(50000);
	pthread_mutex_unlock(&held);
	pthread_join(t, NULL);
}

static pthread_mutex_t counter_lock = PTHREAD_MUTEX_INITIALIZER;
static long counter;

static void *adder(void *arg)
{
	for (long i = 0; i < 200000; i++) {
		pthread_mutex_lock(&counter_lock);
		counter++;
		pthread_mutex_unlock(&counter_lock);
	}
	return arg;
}

static pthread_mutex_t pp_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t pp_cond = PTHREAD_COND_INITIALIZER;
static int turn, rounds_done;

static void *player(void *arg)
{
	int me = *(int *)arg;

	pthread_mutex_lock(&pp_lock);
	for (int i = 0; i < 2000; i++) {
		while (turn != me)
			pthread_cond_wait(&pp_cond, &pp_lock);
		turn = !me;
		rounds_done++;
		pthread_cond_broadcast(&pp_cond);
	}
	pthread_mutex_unlock(&pp_lock);
	return NULL;
}

static int checks(void)
{
	pthread_t t[4];
	int ids[2] = { 0, 1 };
	struct timespec past = { 0, 0 };

	typed("normal", PTHREAD_MUTEX_NORMAL);
	typed("errorcheck", PTHREAD_MUTEX_ERRORCHECK);
	typed("recursive", PTHREAD_MUTEX_RECURSIVE);
	priority_protect();
	robust_dead_owner();
	blocking();
	for (int i = 0; i < 4; i++)
		pthread_create(&t[i], NULL, adder, NULL);
	for (int i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	printf("contended counter: %ld\n", counter);
	pthread_create(&t[0], NULL, player, &ids[1]);
	player(&ids[0]);
	pthread_join(t[0], NULL);
	printf("ping-pong rounds: %d\n", rounds_done);
	pthread_mutex_lock(&pp_lock);
	CALL("timedwait past deadline", pthread_cond_timedwait(&pp_cond, &pp_lock, &past));
	CALL("unlock after timedwait", pthread_mutex_unlock(&pp_lock));
	return 0;
}

/* Runs the checks in a child, under `preload` (NULL: natively); its output in `buf`. */
static int run(const char *self, const char *preload, const char *hold_sample, char *buf,
	       size_t size)
{
	int fd[2], status;
	size_t len = 0;
	ssize_t r;
	pid_t pid;

	if (pipe(fd) != 0)
		return -1;
	pid = fork();
	if (pid == 0) {
		dup2(fd[1], STDOUT_FILENO);
		close(fd[0]);
		if (preload)
			setenv("LD_PRELOAD", preload, 1);
		else
			unsetenv("LD_PRELOAD");
		if (hold_sample)
			setenv("WEFT_HOLD_SAMPLE", hold_sample, 1);
		execl(self, self, "--checks", (char *)NULL);
		_exit(127);
	}
	close(fd[1]);
	while (len < size - 1 && (r = read(fd[0], buf + len, size - 1 - len)) > 0)
		len += (size_t)r;
	buf[len] = '\0';
	close(fd[0]);
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
		return -1;
	return 0;
}

/*
 * The lock that blocked 50 ms (blocking(), alone in a process under weft) is
 * recorded: its file output holds a `wait mutex` span. 0 if so.
 */
static int blocking_recorded(const char *self, const char *lib)
{
	char path[] = "/tmp/weft-sync-contract-XXXXXX", out[64], line[65536];
	int found = 0, status, fd = mkstemp(path);
	FILE *f;
	pid_t pid;

	if (fd < 0)
		return -1;
	close(fd);
	unlink(path); /* weft creates its output file itself (O_EXCL) */
	snprintf(out, sizeof(out), "%s", path);
	pid = fork();
	if (pid == 0) {
		setenv("LD_PRELOAD", lib, 1);
		setenv("WEFT_OUTPUT", out, 1);
		setenv("OTEL_TRACES_EXPORTER", "file", 1);
		setenv("OTEL_METRICS_EXPORTER", "none", 1);
		execl(self, self, "--blocking", (char *)NULL);
		_exit(127);
	}
	if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
	    WEXITSTATUS(status) != 0)
		return -1;
	f = fopen(out, "r");
	if (!f)
		return -1;
	while (!found && fgets(line, sizeof(line), f))
		found = strstr(line, "\"name\":\"wait mutex\"") != NULL;
	fclose(f);
	unlink(out);
	return found ? 0 : -1;
}

int main(int argc, char **argv)
{
	static char native[8192], weft[8192];
	const char *configs[][2] = { { "weft", NULL }, { "weft, every hold sampled", "1" } };
	char self[4096];
	ssize_t len;
	int failed = 0;

	if (argc > 1 && strcmp(argv[1], "--blocking") == 0) {
		blocking();
		return 0;
	}
	if (argc > 1 && strcmp(argv[1], "--checks") == 0) {
		setvbuf(stdout, NULL, _IOFBF, 0);
		return checks();
	}
	if (argc < 2 || access(argv[1], R_OK) != 0) {
		fprintf(stderr, "sync-contract: no libweft.so given\n");
		return 77;
	}
	len = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (len <= 0)
		return 1;
	self[len] = '\0';
	setenv("OTEL_TRACES_EXPORTER", "none", 1);
	setenv("OTEL_METRICS_EXPORTER", "none", 1);
	if (run(self, NULL, NULL, native, sizeof(native)) != 0) {
		fprintf(stderr, "sync-contract: the native run failed\n");
		return 1;
	}
	fputs(native, stdout);
	for (size_t i = 0; i < sizeof(configs) / sizeof(configs[0]); i++) {
		if (run(self, argv[1], configs[i][1], weft, sizeof(weft)) != 0) {
			printf("FAIL: the run under %s failed\n", configs[i][0]);
			failed = 1;
		} else if (strcmp(native, weft) != 0) {
			printf("FAIL: under %s the output differs:\n%s", configs[i][0], weft);
			failed = 1;
		} else {
			printf("ok: identical under %s\n", configs[i][0]);
		}
	}
	if (blocking_recorded(self, argv[1]) != 0) {
		printf("FAIL: the 50 ms contended lock left no `wait mutex` span\n");
		failed = 1;
	} else {
		printf("ok: the 50 ms contended lock is a `wait mutex` span\n");
	}
	return failed;
}
