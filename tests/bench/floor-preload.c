/*
 * The floor of a per-process file output: a preloaded library whose only work
 * is what weft's default output must do for a trivial process as it ends —
 * create its own file (O_EXCL, 0600) at the WEFT_OUTPUT path with %p made the
 * process id, write the two lines weft writes for such a process (spans,
 * then metrics: 1,445 and 9,317 bytes on 2026-12-03), and close it. Nothing
 * at start, no state, no formatting.
 *
 * bench-startup and bench-fork run it as their `floor` column: what any tool
 * that leaves one file per process pays for loading itself and writing it,
 * so that weft's own cost is the difference between `weft` and `floor`.
 */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum { SPANS_LINE = 1445, METRICS_LINE = 9317 };

static char line[METRICS_LINE];

/* pattern with each %p replaced by the decimal pid and %% by %; 0 if it does not fit. */
static int expand(const char *pattern, char *out, size_t size)
{
	char pid[24];
	size_t n = 0, k = 0;
	unsigned long v = (unsigned long)getpid();

	do
		pid[k++] = (char)('0' + v % 10);
	while ((v /= 10) && k < sizeof(pid));
	for (const char *s = pattern; *s; s++) {
		if (s[0] == '%' && s[1] == 'p') {
			for (size_t i = k; i > 0; i--) {
				if (n + 1 >= size)
					return 0;
				out[n++] = pid[i - 1];
			}
			s++;
			continue;
		}
		if (s[0] == '%' && s[1] == '%')
			s++;
		if (n + 1 >= size)
			return 0;
		out[n++] = *s;
	}
	out[n] = '\0';
	return 1;
}

__attribute__((destructor)) static void write_output(void)
{
	const char *pattern = getenv("WEFT_OUTPUT");
	char path[4096];
	int fd;

	if (!pattern || !expand(pattern, path, sizeof(path)))
		return;
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC, 0600);
	if (fd < 0)
		return;
	memset(line, ' ', sizeof(line));
	line[SPANS_LINE - 1] = '\n';
	line[METRICS_LINE - 1] = '\n';
	if (write(fd, line, SPANS_LINE) == SPANS_LINE)
		(void)!write(fd, line, METRICS_LINE);
	close(fd);
}
