/*
 * Files for the output tests: each test binary works in its own temporary
 * directory, made at the start of main and removed at the end.
 */
#ifndef WEFT_TESTS_UNIT_TMPDIR_H
#define WEFT_TESTS_UNIT_TMPDIR_H

/* Makes /tmp/weft-test-TEST-XXXXXX; returns its path, or NULL (errno set). */
const char *tmpdir_create(const char *test);
/* Removes the directory and everything in it. */
void tmpdir_remove(void);
/* NAME inside the directory; valid until eight more calls. */
char *tmp_path(const char *name);
/* The whole file, NUL-terminated; the caller frees it. NULL if it cannot be read. */
char *slurp(const char *path);
/* The descriptor of this process that names `path`, or -1. */
int fd_of(const char *path);
/* Runs fn with stderr captured into a file; returns what was written (freed by the caller). */
char *capture_stderr(void (*fn)(void *), void *arg);
/* The number of lines in the file, or -1 if it cannot be read. */
int count_lines(const char *path);

#endif
