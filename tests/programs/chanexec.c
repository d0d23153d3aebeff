/*
 * Channels across exec (tests/integration/test-chanexec.py).
 *
 *   chanexec parent VARIANT
 *       makes pipe:make_exec_pipe#1 (kept open across exec),
 *       pipe:make_cloexec_pipe#1 (O_CLOEXEC: gone after exec) and
 *       socketpair:make_exec_socketpair#1, waits until its own weft output
 *       names all three (so that the names exist before the exec), sends RN
 *       bytes on the socketpair, forks. The child dup2()s the pipe's write end
 *       to descriptor 10 and execs this program in writer mode with the exec
 *       function VARIANT (execve, execv, execvp, execvpe, execl, execlp,
 *       execle, fexecve, execveat), or has system()'s shell exec it
 *       (`system`). The parent reads the pipe to its end and
 *       SN bytes from the socketpair, waits for the child.
 *   chanexec writer WFD PFD CFD SFD
 *       the exec'd image: writes N bytes to the pipe, half on WFD (10), half on
 *       PFD (the original write end), checks that CFD (the O_CLOEXEC pipe's
 *       read end) is closed, reads RN bytes from SFD (the socketpair's second
 *       end) and writes SN back, and says whether WEFT_CHANNELS is in its
 *       environment (it must never be). Then makes a pipe of its own in
 *       make_exec_pipe (pipe:make_exec_pipe#2 there) and moves NEW bytes.
 *
 * Prints `pid <role> <pid>`, `count <name> <n>`, facts, then `done` (the parent).
 */
#include <errno.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "channels.h"

enum { N = 3000, RN = 70, SN = 500, NEW = 5, WFD = 10 };

extern char **environ;

CREATOR void make_exec_pipe(int p[2]);
CREATOR void make_cloexec_pipe(int p[2]);
CREATOR void make_exec_socketpair(int s[2]);

CREATOR void make_exec_pipe(int p[2])
{
	MUST(pipe(p), 0);
}

CREATOR void make_cloexec_pipe(int p[2])
{
	MUST(pipe2(p, O_CLOEXEC), 0);
}

CREATOR void make_exec_socketpair(int s[2])
{
	MUST(socketpair(AF_UNIX, SOCK_STREAM, 0, s), 0);
}

static void write_all(int fd, int n)
{
	char buf[512];

	memset(buf, 'x', sizeof(buf));
	while (n > 0) {
		ssize_t w = write(fd, buf, n < (int)sizeof(buf) ? (size_t)n : sizeof(buf));

		if (w <= 0)
			fail("write");
		n -= (int)w;
	}
}

/* Reads until `want` bytes (or end of file when want < 0); returns the count. */
static long read_all(int fd, long want)
{
	char buf[512];
	long got = 0;

	while (want < 0 || got < want) {
		ssize_t r = read(fd, buf,
				 want < 0 || want - got > (long)sizeof(buf) ? sizeof(buf)
									    : (size_t)(want - got));

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		got += r;
	}
	return got;
}

/* Whether the weft output of this process (WEFT_OUTPUT, %p its pid) contains every name. */
static int output_names(const char *const *names, int n)
{
	const char *pattern = getenv("WEFT_OUTPUT");
	char path[4096], *p = path;
	static char text[1 << 20];
	size_t len;
	FILE *f;

	if (!pattern)
		return 1;
	for (const char *s = pattern; *s && p < path + sizeof(path) - 16; s++) {
		if (s[0] == '%' && s[1] == 'p') {
			p += snprintf(p, 16, "%d", (int)getpid());
			s++;
		} else {
			*p++ = *s;
		}
	}
	*p = '\0';
	if (!(f = fopen(path, "r")))
		return 0;
	len = fread(text, 1, sizeof(text) - 1, f);
	fclose(f);
	text[len] = '\0';
	for (int i = 0; i < n; i++)
		if (!strstr(text, names[i]))
			return 0;
	return 1;
}

static void *idle(void *arg)
{
	return arg;
}

static void writer(char **argv)
{
	int wfd = atoi(argv[2]), pfd = atoi(argv[3]), cfd = atoi(argv[4]), sfd = atoi(argv[5]);
	int np[2];

	printf("pid writer %d\n", (int)getpid());
	printf("weft_channels_env %s\n", getenv("WEFT_CHANNELS") ? "set" : "unset");
	printf("cloexec_closed %d\n", fcntl(cfd, F_GETFD) < 0 && errno == EBADF);
	fflush(stdout);
	write_all(wfd, N / 2);
	write_all(pfd, N - N / 2);
	MUST(read_all(sfd, RN), RN);
	write_all(sfd, SN);
	close(wfd);
	close(pfd);
	close(sfd);
	/* A pipe of its own from the same function: numbered after the inherited one. */
	make_exec_pipe(np);
	write_all(np[1], NEW);
	MUST(read_all(np[0], NEW), NEW);
	close(np[0]);
	close(np[1]);
}

static void run_exec(const char *variant, const char *self, char **args)
{
	char *env_copy[1] = { NULL };
	char **envp = environ ? environ : env_copy;

	if (strcmp(variant, "execve") == 0)
		execve(self, args, envp);
	else if (strcmp(variant, "execv") == 0)
		execv(self, args);
	else if (strcmp(variant, "execvp") == 0)
		execvp(self, args);
	else if (strcmp(variant, "execvpe") == 0)
		execvpe(self, args, envp);
	else if (strcmp(variant, "execl") == 0)
		execl(self, args[0], args[1], args[2], args[3], args[4], args[5], (char *)NULL);
	else if (strcmp(variant, "execlp") == 0)
		execlp(self, args[0], args[1], args[2], args[3], args[4], args[5], (char *)NULL);
	else if (strcmp(variant, "execle") == 0)
		execle(self, args[0], args[1], args[2], args[3], args[4], args[5], (char *)NULL,
		       envp);
	else if (strcmp(variant, "fexecve") == 0)
		fexecve(open(self, O_RDONLY | O_CLOEXEC), args, envp);
	else if (strcmp(variant, "execveat") == 0)
		execveat(AT_FDCWD, self, args, envp, 0);
	else if (strcmp(variant, "system") == 0) {
		/* The shell inherits the descriptors and execs the writer. */
		char cmd[4200];
		int st;

		snprintf(cmd, sizeof(cmd), "exec '%s' %s %s %s %s %s", self, args[1], args[2],
			 args[3], args[4], args[5]);
		st = system(cmd);
		_exit(WIFEXITED(st) ? WEXITSTATUS(st) : 1);
	}
	printf("FAILED: %s: %s\n", variant, strerror(errno));
	fflush(stdout);
	_exit(1);
}

int main(int argc, char **argv)
{
	static const char *const names[] = { "pipe:make_exec_pipe#1", "pipe:make_cloexec_pipe#1",
					     "socketpair:make_exec_socketpair#1" };
	char self[4096], a[4][16], *args[7];
	int p[2], q[2], s[2], status;
	ssize_t len;
	pthread_t t;
	pid_t child;

	if (argc == 6 && strcmp(argv[1], "writer") == 0) {
		writer(argv);
		return 0;
	}
	if (argc != 3 || strcmp(argv[1], "parent") != 0)
		fail("usage: chanexec parent VARIANT");
	len = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (len <= 0)
		fail("readlink");
	self[len] = '\0';
	/* weft's exporter starts with the program's first thread: one, so that it exports. */
	MUST(pthread_create(&t, NULL, idle, NULL), 0);
	MUST(pthread_join(t, NULL), 0);
	make_exec_pipe(p);
	make_cloexec_pipe(q);
	make_exec_socketpair(s);
	printf("pid parent %d\ncount N %d\ncount RN %d\ncount SN %d\ncount NEW %d\n", (int)getpid(),
	       N, RN, SN, NEW);
	for (int i = 0; i < 2000 && !output_names(names, 3); i++)
		sleep_ms(10);
	printf("named %d\n", output_names(names, 3));
	write_all(s[0], RN);
	fflush(stdout);
	child = fork();
	if (child < 0)
		fail("fork");
	if (child == 0) {
		MUST(dup2(p[1], WFD), WFD);
		close(p[0]);
		close(s[0]);
		snprintf(a[0], sizeof(a[0]), "%d", WFD);
		snprintf(a[1], sizeof(a[1]), "%d", p[1]);
		snprintf(a[2], sizeof(a[2]), "%d", q[0]);
		snprintf(a[3], sizeof(a[3]), "%d", s[1]);
		args[0] = "chanexec";
		args[1] = "writer";
		for (int i = 0; i < 4; i++)
			args[2 + i] = a[i];
		args[6] = NULL;
		run_exec(argv[2], self, args);
	}
	close(p[1]);
	close(s[1]);
	printf("count read %ld\n", read_all(p[0], -1));
	printf("count sread %ld\n", read_all(s[0], SN));
	MUST(waitpid(child, &status, 0), child);
	printf("child_status %d\n", status);
	printf("done\n");
	return 0;
}
