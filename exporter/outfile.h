/*
 * The file under the `file` output: where the JSON lines land, and everything
 * that can go wrong on the way.
 *
 * - Created lazily, at the first line: a process that ends at once (a fork
 *   that execs, a program with nothing to report) leaves no empty file.
 * - Created with O_EXCL, 0600, never through a symlink. An existing file is
 *   appended to (processes sharing one WEFT_OUTPUT path without %p) only if
 *   this user owns it: a file of another user is refused.
 * - Opened relative to a directory descriptor taken at agent start when there
 *   is one (agent/fd.h), so a program that chroots or changes directory
 *   before the first export still writes where it was told.
 * - The descriptor is owned (agent/fd.h): the program cannot close it or
 *   reuse its number, and weft never checks and then uses a number.
 * - Bounded: past `max_size` bytes the file is rotated (name → name.1 → ... →
 *   name.N, the oldest deleted), and the spans the deleted file held are
 *   counted (weft_outfile_rotated_spans).
 * - Never delays the program: writes are non-blocking with a timeout, and once
 *   the process is exiting all writes together take at most
 *   WEFT_EXIT_TIMEOUT.
 * - Never loses in silence: the first failure says on stderr why; at close,
 *   one line says how much was not written.
 */
#ifndef WEFT_EXPORTER_OUTFILE_H
#define WEFT_EXPORTER_OUTFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum { WEFT_OUTFILE_BACKUPS = 3 };

/* Where to write instead when the file cannot be opened: a path, or -errno. */
typedef int (*weft_outfile_fallback_fn)(char *path, size_t len);

struct weft_outfile;

/*
 * The file at path `name` (made absolute now), opened through `dir_handle`
 * (an owned handle of its directory, or negative) when the opening thread
 * can use that: so that a chroot, or a directory renamed meanwhile, does not
 * lose it. `shown` is the path in messages. Nothing is opened yet. NULL
 * without memory.
 */
struct weft_outfile *weft_outfile_new(int dir_handle, const char *name, const char *shown,
				      uint64_t max_size, weft_outfile_fallback_fn fallback);

/* Opens now (an explicit file output): 0 or -errno, with one warning line. */
int weft_outfile_open_now(struct weft_outfile *f);

/*
 * Writes one whole line (its spans counted for rotation). 0, or -errno when
 * it was not written (said once on stderr).
 */
int weft_outfile_write(struct weft_outfile *f, const char *line, size_t len, size_t spans,
		       size_t metrics);

/* Spans deleted with rotated-out backups so far. */
uint64_t weft_outfile_rotated_spans(const struct weft_outfile *f);

/* Where the lines go now (the fallback once it is in use). */
const char *weft_outfile_path(const struct weft_outfile *f);

/* Closes, saying what was not written, and frees. */
void weft_outfile_close(struct weft_outfile *f);

/*
 * The `file` output's sink over f (exporter/jsonl.c), which it then owns;
 * NULL without memory (f is then closed).
 */
struct weft_sink;
struct weft_sink *weft_jsonl_open_file(struct weft_outfile *f);

/* The highest name length a component may have (NAME_MAX). */
#define WEFT_OUTFILE_NAME_MAX 255

#endif
