/*
 * The exec family under weft (hooks/exec.c): execve, execv, execvp, execvpe,
 * execl, execlp, execle, fexecve, execveat. Run natively, under weft and with
 * weft disabled (behaviour.py exec), it must print the same:
 *
 *   - each function's failures, with the errno natively seen (ENOENT for a
 *     missing file or command, EACCES for a file without execute permission,
 *     EBADF, EINVAL), and the program's environ unchanged afterwards — the
 *     same array, the same pointers, the same strings, no WEFT_CHANNELS;
 *   - the same with an environment of 700 variables ("execve-big"), more
 *     than the hooks' stack buffer holds;
 *   - for each function, a child (and a vfork child for execve) that execs this program in `echo`
 * mode, which prints the argv and the environment it received (all of it but the variables that
 * differ between the three runs: LD_PRELOAD, WEFT_OUTPUT, OTEL_SDK_DISABLED): exactly what was
 * passed, in order, and no WEFT_CHANNELS; and which of its two inherited pipe descriptors are open
 * (the one without FD_CLOEXEC, not the other).
 *
 * A pipe end stays open without FD_CLOEXEC throughout, so that under weft
 * every exec takes the path that builds a copy of the environment.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

enum { KEEP_FD = 20, CLOEXEC_FD = 21, ENV_MAX = 4096 };

static const char *const passed_through[] = { "LD_PRELOAD=", "WEFT_OUTPUT=", "OTEL_SDK_DISABLED=" };
static char self[4096];
static char *args[] = { "zeroth", "echo", "20", "21", "two words", "", "last", NULL };
static char *custom_env[8];
/* Larger than the hooks' stack buffer: under weft its copy comes from the allocator. */
enum { BIG_N = 700 };
static char *big_env[BIG_N + 8];
static char big_vars[BIG_N][24];

/* The environ seen at start: the array, its pointers and its strings. */
static char **saved_environ;
static char *saved_ptr[ENV_MAX];
static char *saved_str[ENV_MAX];
static int saved_n;

static const char *ename(int e)
{
	switch (e) {
	case 0:
		return "0";
	case ENOENT:
		return "ENOENT";
	case EACCES:
		return "EACCES";
	case EBADF:
		return "EBADF";
	case EINVAL:
		return "EINVAL";
	case ENOTDIR:
		return "ENOTDIR";
	case ENOEXEC:
		return "ENOEXEC";
	case 1234:
		return "kept";
	default:
		return "other";
	}
}

static void must(int ok, const char *what)
{
	if (!ok) {
		printf("SETUP FAILED: %s: %s\n", what, strerror(errno));
		exit(2);
	}
}

static bool passes_through(const char *s)
{
	for (size_t i = 0; i < sizeof(passed_through) / sizeof(passed_through[0]); i++)
		if (strncmp(s, passed_through[i], strlen(passed_through[i])) == 0)
			return true;
	return false;
}

static void echo(int argc, char **argv)
{
	printf("  echo: argc %d\n", argc);
	for (int i = 0; i < argc; i++)
		printf("  echo: argv[%d] <%s>\n", i, argv[i]);
	printf("  echo: argv[%d] %s\n", argc, argv[argc] ? "not NULL" : "NULL");
	for (int i = 0; environ && environ[i]; i++)
		if (!passes_through(environ[i]))
			printf("  echo: env <%s>\n", environ[i]);
	printf("  echo: WEFT_CHANNELS %s\n", getenv("WEFT_CHANNELS") ? "set" : "unset");
	printf("  echo: fd %d %s, fd %d %s\n", KEEP_FD,
	       fcntl(KEEP_FD, F_GETFD) >= 0 ? "open" : "closed", CLOEXEC_FD,
	       fcntl(CLOEXEC_FD, F_GETFD) >= 0 ? "open" : "closed");
}

static void save_environ(void)
{
	saved_environ = environ;
	for (saved_n = 0; environ[saved_n] && saved_n < ENV_MAX; saved_n++) {
		saved_ptr[saved_n] = environ[saved_n];
		must((saved_str[saved_n] = strdup(environ[saved_n])) != NULL, "strdup");
	}
}

/* Whether environ is as it was at start. */
static const char *environ_state(void)
{
	if (environ != saved_environ)
		return "environ moved";
	for (int i = 0; i < saved_n; i++)
		if (environ[i] != saved_ptr[i] || strcmp(environ[i], saved_str[i]) != 0)
			return "environ changed";
	if (environ[saved_n])
		return "environ grew";
	return getenv("WEFT_CHANNELS") ? "WEFT_CHANNELS in environ" : "environ unchanged";
}

/* Calls one exec function on `path`; returns only when it failed. */
static int call(const char *fn, const char *path, int fd, int flags)
{
	errno = 1234;
	if (strcmp(fn, "execve") == 0)
		return execve(path, args, custom_env);
	if (strcmp(fn, "execve-big") == 0)
		return execve(path, args, big_env);
	if (strcmp(fn, "execv") == 0)
		return execv(path, args);
	if (strcmp(fn, "execvp") == 0)
		return execvp(path, args);
	if (strcmp(fn, "execvpe") == 0)
		return execvpe(path, args, custom_env);
	if (strcmp(fn, "execl") == 0)
		return execl(path, args[0], args[1], args[2], args[3], args[4], args[5], args[6],
			     (char *)NULL);
	if (strcmp(fn, "execlp") == 0)
		return execlp(path, args[0], args[1], args[2], args[3], args[4], args[5], args[6],
			      (char *)NULL);
	if (strcmp(fn, "execle") == 0)
		return execle(path, args[0], args[1], args[2], args[3], args[4], args[5], args[6],
			      (char *)NULL, custom_env);
	if (strcmp(fn, "fexecve") == 0)
		return fexecve(fd, args, custom_env);
	if (strcmp(fn, "execveat") == 0)
		return execveat(AT_FDCWD, path, args, custom_env, flags);
	return -2;
}

static void fails(const char *fn, const char *path, int fd, int flags)
{
	int rc = call(fn, path, fd, flags), e = errno;

	printf("%s %s: rc %d errno %s; %s\n", fn,
	       *path     ? path
	       : fd >= 0 ? "(fd)"
			 : "(fd -1)",
	       rc, ename(e), environ_state());
}

static void succeeds(const char *fn)
{
	int status, fd = -1;
	pid_t child;

	printf("%s:\n", fn);
	fflush(stdout);
	child = fork();
	must(child >= 0, "fork");
	if (child == 0) {
		if (strcmp(fn, "fexecve") == 0)
			fd = open(self, O_RDONLY | O_CLOEXEC);
		call(fn, self, fd, 0);
		printf("  %s failed: %s\n", fn, ename(errno));
		fflush(stdout);
		_exit(1);
	}
	must(waitpid(child, &status, 0) == child, "waitpid");
	printf("  child status %d\n", status);
}

/* The same from a vfork child (which shares this process's memory until the exec). */
static void succeeds_vfork(const char *fn)
{
	int status;
	pid_t child;

	printf("vfork %s:\n", fn);
	fflush(stdout);
	child = vfork();
	must(child >= 0, "vfork");
	if (child == 0) {
		call(fn, self, -1, 0);
		_exit(1);
	}
	must(waitpid(child, &status, 0) == child, "waitpid");
	printf("  child status %d\n", status);
}

int main(int argc, char **argv)
{
	static const char *const fns[] = {
		"execve", "execve-big", "execv",  "execvp",  "execvpe",
		"execl",  "execlp",     "execle", "fexecve", "execveat"
	};
	int p[2], q[2], noexec, n = 0;
	ssize_t len;

	if (argc > 1 && strcmp(argv[1], "echo") == 0) {
		echo(argc, argv);
		return 0;
	}
	len = readlink("/proc/self/exe", self, sizeof(self) - 1);
	must(len > 0, "readlink");
	self[len] = '\0';
	/* The new image's environment: three variables, and what the runs differ in. */
	custom_env[n++] = "EXEC_A=1";
	for (int i = 0; environ[i]; i++)
		if (passes_through(environ[i]))
			custom_env[n++] = environ[i];
	custom_env[n++] = "EXEC_B=two words";
	custom_env[n++] = "EXEC_C=";
	custom_env[n] = NULL;
	n = 0;
	for (int i = 0; custom_env[i]; i++)
		big_env[n++] = custom_env[i];
	for (int i = 0; i < BIG_N; i++) {
		snprintf(big_vars[i], sizeof(big_vars[i]), "EXEC_BIG_%d=%d", i, i * 7);
		big_env[n++] = big_vars[i];
	}
	big_env[n] = NULL;
	/* A pipe's write end open across exec; another pipe's read end close-on-exec. */
	must(pipe(p) == 0 && dup2(p[1], KEEP_FD) == KEEP_FD, "pipe");
	must(pipe2(q, O_CLOEXEC) == 0 && dup3(q[0], CLOEXEC_FD, O_CLOEXEC) == CLOEXEC_FD, "pipe2");
	close(p[1]);
	close(q[0]);
	noexec = open("noexec", O_CREAT | O_WRONLY | O_TRUNC, 0644);
	must(noexec >= 0 && write(noexec, "#!/bin/sh\n", 10) == 10, "noexec");
	close(noexec);
	save_environ();

	printf("%s\n", environ_state());
	for (size_t i = 0; i < sizeof(fns) / sizeof(fns[0]); i++) {
		const char *fn = fns[i];

		if (strcmp(fn, "fexecve") == 0) {
			fails(fn, "", -1, 0);
			noexec = open("noexec", O_RDONLY);
			fails(fn, "", noexec, 0);
			close(noexec);
			continue;
		}
		fails(fn, "/nonexistent/exec-check", -1, 0);
		fails(fn, "./noexec", -1, 0);
		fails(fn, "noexec/x", -1, 0);
		if (strcmp(fn, "execvp") == 0 || strcmp(fn, "execvpe") == 0 ||
		    strcmp(fn, "execlp") == 0)
			fails(fn, "no-such-command-for-exec-check", -1, 0);
		if (strcmp(fn, "execveat") == 0)
			fails(fn, self, -1, 0x40000000);
	}
	for (size_t i = 0; i < sizeof(fns) / sizeof(fns[0]); i++)
		succeeds(fns[i]);
	succeeds_vfork("execve");
	succeeds_vfork("execve-big");
	printf("%s\n", environ_state());
	return 0;
}
