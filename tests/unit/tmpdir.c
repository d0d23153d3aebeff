/*
 * Files for the output tests (declared in tmpdir.h): a private temporary
 * directory, reading files back, finding a descriptor, capturing stderr.
 */
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tmpdir.h"

static char tmpdir[64];

const char *tmpdir_create(const char *test)
{
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/weft-test-%s-XXXXXX", test);
	return mkdtemp(tmpdir);
}

void tmpdir_remove(void)
{
	char cmd[PATH_MAX + 20];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", tmpdir);
}

char *tmp_path(const char *name)
{
	static char bufs[8][PATH_MAX];
	static unsigned next;
	char *p = bufs[next++ % 8];

	snprintf(p, PATH_MAX, "%s/%s", tmpdir, name);
	return p;
}

char *slurp(const char *path)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	long n;

	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = malloc((size_t)n + 1);
	if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
		free(buf);
		buf = NULL;
	}
	if (buf)
		buf[n] = '\0';
	fclose(f);
	return buf;
}

int fd_of(const char *path)
{
	char want[PATH_MAX], link[PATH_MAX], target[PATH_MAX];
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int found = -1;

	if (!d || !realpath(path, want)) {
		if (d)
			closedir(d);
		return -1;
	}
	while ((e = readdir(d))) {
		ssize_t n;

		if (e->d_name[0] == '.')
			continue;
		snprintf(link, sizeof(link), "/proc/self/fd/%s", e->d_name);
		n = readlink(link, target, sizeof(target) - 1);
		if (n < 0)
			continue;
		target[n] = '\0';
		if (strcmp(target, want) == 0 && atoi(e->d_name) != dirfd(d))
			found = atoi(e->d_name);
	}
	closedir(d);
	return found;
}

char *capture_stderr(void (*fn)(void *), void *arg)
{
	const char *path = tmp_path("stderr.txt");
	int saved = dup(2), fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	fflush(stderr);
	dup2(fd, 2);
	close(fd);
	fn(arg);
	dup2(saved, 2);
	close(saved);
	return slurp(path);
}

int count_lines(const char *path)
{
	char *s = slurp(path);
	int n = 0;

	if (!s)
		return -1;
	for (char *p = s; *p; p++)
		n += *p == '\n';
	free(s);
	return n;
}
