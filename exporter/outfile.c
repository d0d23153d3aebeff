/*
 * The file under the `file` output (see outfile.h for what it promises).
 * Runs on the exporter thread, or on the exiting thread when there is none.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "agent/agent.h"
#include "agent/alloc.h"
#include "agent/clock.h"
#include "agent/fd.h"
#include "agent/format.h"
#include "agent/log.h"
#include "exporter/outfile.h"

/* How long one write may wait on a full FIFO or pipe while the program runs. */
#define OUTFILE_WRITE_TIMEOUT_MS 1000
#define OUTFILE_POLL_SLICE_NS    (50 * 1000000ull)

/* Not errnos: an existing file that belongs to another user; a reader that stalls. */
#define OUTFILE_NOT_OURS (-100000)
#define OUTFILE_STALLED  (-100001)

struct weft_outfile {
	int h;   /* the owned descriptor's handle, -1 when not open */
	int dir; /* the handle of name's directory, or -1 */
	uint64_t max_size;
	weft_outfile_fallback_fn fallback;
	bool on_fallback;   /* name/dir now describe the fallback */
	bool open_warned;   /* the current failure to open was reported */
	bool write_warned;  /* a failure to write was reported */
	bool rotate_warned; /* a failure to rotate was reported */
	bool partial;       /* the last line was cut short: start the next on a new line */
	int last_err;
	uint64_t lost_spans, lost_metrics;
	uint64_t spans_in[WEFT_OUTFILE_BACKUPS + 1]; /* spans written to name, name.1, ... */
	uint64_t rotated_spans;
	uint64_t exit_deadline; /* 0 until the process exits */
	/* One block holds both strings (name first): a path's length, not PATH_MAX twice. */
	char *name;  /* the file's path (its last component: relative to dir) */
	char *shown; /* what messages call it */
	size_t inline_cap;
	char inline_names[]; /* the first names' block, in the structure's own allocation */
};

static const char *outfile_strerror(int err)
{
	const char *s;

	if (err == OUTFILE_NOT_OURS)
		return "the file belongs to another user";
	if (err == OUTFILE_STALLED)
		return "its reader does not keep up (a write waits at most 1 s, and all writes at "
		       "exit WEFT_EXIT_TIMEOUT)";
	/* strerror's text without its locale machinery (which may malloc). */
	s = strerrordesc_np(-err);
	return s ? s : "Unknown error";
}

/* Replaces name and shown with copies of the two: 0, or -ENOMEM with both unchanged. */
static int set_names(struct weft_outfile *f, const char *name, const char *shown)
{
	size_t a = strlen(name) + 1, b = strlen(shown) + 1;
	char *p = a + b <= f->inline_cap ? f->inline_names : weft_alloc(a + b);

	if (!p)
		return -ENOMEM;
	if (f->name != f->inline_names)
		weft_free(f->name);
	memcpy(p, name, a);
	memcpy(p + a, shown, b);
	f->name = p;
	f->shown = p + a;
	return 0;
}

struct weft_outfile *weft_outfile_new(int dir_handle, const char *name, const char *shown,
				      uint64_t max_size, weft_outfile_fallback_fn fallback)
{
	struct weft_outfile *f;
	char cwd[PATH_MAX], path[PATH_MAX];
	size_t cap;

	/*
	 * The file may be opened later, perhaps after the program changed
	 * directory: make a relative path absolute now. With no working
	 * directory to name (or too long a path), relative it stays.
	 */
	if (name[0] != '/' && getcwd(cwd, sizeof(cwd)) && cwd[0] == '/' &&
	    weft_format(path, sizeof(path), "%s%s%s", cwd, cwd[strlen(cwd) - 1] == '/' ? "" : "/",
			name) < (int)sizeof(path))
		name = path;
	/* One allocation for the structure and its names. */
	cap = strlen(name) + strlen(shown) + 2;
	f = weft_zalloc(sizeof(*f) + cap);
	if (!f)
		return NULL;
	f->inline_cap = cap;
	f->h = -1;
	f->dir = dir_handle;
	f->max_size = max_size;
	f->fallback = fallback;
	if (set_names(f, name, shown) < 0) {
		weft_free(f);
		return NULL;
	}
	return f;
}

/*
 * The directory descriptor for *at() calls, marked in use, and the name to
 * give them: the last component. AT_FDCWD and the whole path without one, or
 * when the calling thread cannot use it (the directory is open only in the
 * exporter's table, and the last of the program's threads exports at exit).
 */
static int dir_use(struct weft_outfile *f, const char **name)
{
	const char *slash = strrchr(f->name, '/');
	int fd = f->dir >= 0 ? weft_fd_use(f->dir) : -1;

	*name = fd >= 0 && slash ? slash + 1 : f->name;
	return fd >= 0 ? fd : AT_FDCWD;
}

static void dir_unuse(struct weft_outfile *f, int dirfd)
{
	if (dirfd != AT_FDCWD)
		weft_fd_unuse(f->dir);
}

/*
 * Creates the file (O_EXCL), or opens the existing one if this user owns it.
 * O_NOFOLLOW refuses a symlink; O_NONBLOCK keeps a FIFO without a reader
 * from blocking us (ENXIO) and bounds writes to one whose reader stalls.
 */
static int open_file(struct weft_outfile *f)
{
	const int flags = O_WRONLY | O_APPEND | O_NOFOLLOW | O_NONBLOCK;
	struct stat st;
	const char *name;
	int dirfd = dir_use(f, &name), h = -ENOENT, fd;
	bool theirs;

	for (int tries = 0; tries < 3 && h == -ENOENT; tries++) {
		h = weft_fd_openat(dirfd, name, flags | O_CREAT | O_EXCL, 0600, 0);
		if (h != -EEXIST)
			break;
		/* It exists: ours to append to only if it is this user's. */
		h = weft_fd_openat(dirfd, name, flags, 0, 0);
		if (h < 0)
			continue; /* removed meanwhile: create it again */
		fd = weft_fd_use(h);
		if (fd < 0)
			continue;
		theirs = fstat(fd, &st) == 0 && (S_ISREG(st.st_mode) || S_ISFIFO(st.st_mode)) &&
			 st.st_uid != geteuid();
		weft_fd_unuse(h);
		if (theirs) {
			weft_fd_close(h);
			h = OUTFILE_NOT_OURS;
			break;
		}
	}
	dir_unuse(f, dirfd);
	return h;
}

/* Opens the file, or the fallback; 0 or -errno (said once). */
static int ensure_open(struct weft_outfile *f)
{
	char path[PATH_MAX], shown[PATH_MAX];
	int h, fh;

	if (f->h >= 0)
		return 0;
	h = open_file(f);
	if (h >= 0) {
		f->h = h;
		f->open_warned = false;
		return 0;
	}
	if (!f->on_fallback && f->fallback && f->fallback(path, sizeof(path)) == 0 &&
	    weft_format(shown, sizeof(shown), "%s", f->shown) >= 0 &&
	    set_names(f, path, path) == 0) {
		f->on_fallback = true;
		f->dir = -1;
		memset(f->spans_in, 0, sizeof(f->spans_in));
		fh = open_file(f);
		if (fh >= 0) {
			weft_warn("cannot write %s: %s; writing telemetry to %s instead", shown,
				  outfile_strerror(h), path);
			f->h = fh;
			return 0;
		}
		weft_warn("cannot write %s: %s, nor the fallback %s: %s", shown,
			  outfile_strerror(h), path, outfile_strerror(fh));
		f->open_warned = true;
		h = fh;
	}
	if (!f->open_warned)
		weft_warn("cannot write %s: %s", f->shown, outfile_strerror(h));
	f->open_warned = true;
	f->last_err = h;
	return h;
}

int weft_outfile_open_now(struct weft_outfile *f)
{
	return ensure_open(f);
}

/* name, or name.i */
static void backup_name(const char *name, int i, char *out, size_t len)
{
	if (i == 0)
		weft_copy(out, len, name);
	else
		weft_format(out, len, "%s.%d", name, i);
}

/*
 * Past the size limit: name → name.1 → ... → name.N; what name.N held is
 * gone (its spans are counted), and a new name is created.
 */
static void rotate(struct weft_outfile *f)
{
	char from[PATH_MAX + 16], to[PATH_MAX + 16];
	const char *name;
	int dirfd = dir_use(f, &name), r = 0;

	for (int i = WEFT_OUTFILE_BACKUPS; i > 0 && r == 0; i--) {
		backup_name(name, i - 1, from, sizeof(from));
		backup_name(name, i, to, sizeof(to));
		if (renameat(dirfd, from, dirfd, to) != 0 && errno != ENOENT)
			r = -errno;
	}
	dir_unuse(f, dirfd);
	if (r < 0) {
		if (!f->rotate_warned)
			weft_warn("cannot rotate %s (WEFT_OUTPUT_MAX_SIZE): %s; it grows on",
				  f->shown, outfile_strerror(r));
		f->rotate_warned = true;
		return;
	}
	f->rotated_spans += f->spans_in[WEFT_OUTFILE_BACKUPS];
	memmove(f->spans_in + 1, f->spans_in, WEFT_OUTFILE_BACKUPS * sizeof(f->spans_in[0]));
	f->spans_in[0] = 0;
	weft_fd_close(f->h);
	f->h = -1;
}

/*
 * Rotates when `len` more bytes would take the file past the limit. A metrics
 * line (`slack`) may go up to twice the limit instead: it carries the count of
 * spans rotation has deleted so far, so it must not itself delete more that
 * it cannot count; the next spans line rotates.
 */
static void maybe_rotate(struct weft_outfile *f, size_t len, bool slack)
{
	struct stat st;
	uint64_t limit = slack ? f->max_size * 2 : f->max_size;
	int fd;

	if (!f->max_size || f->rotate_warned)
		return;
	fd = weft_fd_use(f->h);
	if (fd < 0)
		return;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size == 0 ||
	    (uint64_t)st.st_size + len <= limit) {
		weft_fd_unuse(f->h);
		return;
	}
	weft_fd_unuse(f->h);
	rotate(f);
}

/*
 * When a write waiting for a full pipe must give up: a second after it began
 * while the program runs; once the process exits, when WEFT_EXIT_TIMEOUT has
 * passed since the exit began — also for a write that began before.
 */
static uint64_t give_up_at(struct weft_outfile *f, uint64_t began)
{
	uint64_t now = weft_clock_now(), limit = began + OUTFILE_WRITE_TIMEOUT_MS * 1000000ull;

	if (!weft_load_acquire(&weft_process.exiting))
		return limit;
	if (!f->exit_deadline)
		f->exit_deadline = weft_clock_after(now, weft_cfg.exit_timeout_ns);
	return f->exit_deadline < limit ? f->exit_deadline : limit;
}

/* write(2) until done or given up (give_up_at); *done counts bytes. */
static int write_all(struct weft_outfile *f, int fd, const char *buf, size_t len, size_t *done)
{
	uint64_t began = 0;

	*done = 0;
	while (*done < len) {
		ssize_t w = write(fd, buf + *done, len - *done);
		struct pollfd pfd = { .fd = fd, .events = POLLOUT };
		uint64_t now, until;

		if (w > 0) {
			*done += (size_t)w;
			continue;
		}
		if (w == 0)
			return -EIO;
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN && errno != EWOULDBLOCK)
			return -errno;
		now = weft_clock_now();
		if (!began)
			began = now;
		until = give_up_at(f, began);
		if (now >= until)
			return OUTFILE_STALLED;
		/* In slices, so that an exit that begins meanwhile is noticed. */
		if (until - now > OUTFILE_POLL_SLICE_NS)
			until = now + OUTFILE_POLL_SLICE_NS;
		if (poll(&pfd, 1, (int)((until - now + 999999u) / 1000000u)) < 0 && errno != EINTR)
			return -errno;
	}
	return 0;
}

static int write_line(struct weft_outfile *f, const char *line, size_t len)
{
	int fd = weft_fd_use(f->h), r;
	size_t done;

	if (fd < 0) {
		/* A program's dup2 took the number and there was no room to move. */
		weft_fd_forget(f->h);
		f->h = -1;
		return fd;
	}
	if (f->partial) {
		/* The last line was cut short: end it, so this one parses. */
		r = write_all(f, fd, "\n", 1, &done);
		f->partial = done == 0;
	}
	r = f->partial ? OUTFILE_STALLED : write_all(f, fd, line, len, &done);
	f->partial |= r < 0 && done > 0;
	weft_fd_unuse(f->h);
	if (r == -EBADF) {
		/* Closed by a raw system call, behind the hooks: open again next time. */
		weft_fd_forget(f->h);
		f->h = -1;
	}
	return r;
}

int weft_outfile_write(struct weft_outfile *f, const char *line, size_t len, size_t spans,
		       size_t metrics)
{
	int r = ensure_open(f);

	if (r == 0) {
		maybe_rotate(f, len, spans == 0 && metrics > 0);
		r = ensure_open(f);
	}
	if (r == 0)
		r = write_line(f, line, len);
	if (r == -EBADF && ensure_open(f) == 0)
		r = write_line(f, line, len); /* the number was lost: once more, on a new one */
	if (r == 0) {
		f->spans_in[0] += spans;
		return 0;
	}
	f->lost_spans += spans;
	f->lost_metrics += metrics;
	if (!f->write_warned && !f->open_warned)
		weft_warn("cannot write %s: %s; telemetry not written is counted in "
			  "weft.agent.events.dropped",
			  f->shown, outfile_strerror(r));
	f->write_warned = true;
	f->last_err = r;
	return r;
}

uint64_t weft_outfile_rotated_spans(const struct weft_outfile *f)
{
	return f ? f->rotated_spans : 0;
}

const char *weft_outfile_path(const struct weft_outfile *f)
{
	return f->shown;
}

void weft_outfile_close(struct weft_outfile *f)
{
	if (f->h >= 0)
		weft_fd_close(f->h);
	if (f->lost_spans || f->lost_metrics)
		weft_warn("%s: %llu spans and %llu metric collections were not written: %s",
			  f->shown, (unsigned long long)f->lost_spans,
			  (unsigned long long)f->lost_metrics, outfile_strerror(f->last_err));
	if (f->name != f->inline_names)
		weft_free(f->name);
	weft_free(f);
}
