/*
 * The spool of the otlp output: see otlp_spool.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "agent/alloc.h"
#include "agent/config.h"
#include "exporter/otlp_spool.h"

/* Other names tried when weft-<service>-<pid>.spool exists (a reused pid). */
#define WEFT_OTLP_SPOOL_TRIES 8

static void put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* The directory part of path (".", "/" or a prefix without the last slash). */
static void dir_of(const char *path, char *out, size_t outlen)
{
	const char *slash = strrchr(path, '/');

	if (!slash)
		snprintf(out, outlen, ".");
	else if (slash == path)
		snprintf(out, outlen, "/");
	else
		snprintf(out, outlen, "%.*s", (int)(slash - path), path);
}

/* dir/weft-<service>-<pid><suffix>.spool, with dir made absolute. */
static void name_in(const char *dir, const char *service, int pid, int n, char *out, size_t outlen)
{
	char file[WEFT_CONFIG_STR], cwd[WEFT_OTLP_SPOOL_PATH / 2];

	weft_config_expand_path(n ? "weft-%n-%p" : "weft-%n-%p.spool", service, pid, file,
				sizeof(file));
	if (n)
		snprintf(file + strlen(file), sizeof(file) - strlen(file), "-%d.spool", n + 1);
	if (dir[0] == '/')
		snprintf(out, outlen, "%s%s%s", dir, dir[1] ? "/" : "", file);
	else if (getcwd(cwd, sizeof(cwd)))
		snprintf(out, outlen, "%s/%s%s%s", cwd, strcmp(dir, ".") ? dir : "",
			 strcmp(dir, ".") ? "/" : "", file);
	else
		snprintf(out, outlen, "%s/%s", dir, file);
}

int weft_otlp_spool_create(const char *path)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);

	if (fd < 0)
		return -errno;
	if (write(fd, WEFT_OTLP_SPOOL_MAGIC, WEFT_OTLP_SPOOL_HEAD) != WEFT_OTLP_SPOOL_HEAD) {
		int err = errno ? -errno : -EIO;

		close(fd);
		unlink(path);
		return err;
	}
	return fd;
}

int weft_otlp_spool_append(int fd, int signal, const uint8_t *body, size_t len, size_t items)
{
	uint8_t head[WEFT_OTLP_SPOOL_REC_HEAD] = { (uint8_t)(signal + 1) };
	struct iovec iov[2] = { { head, sizeof(head) }, { (void *)body, len } };
	size_t want = sizeof(head) + len, done = 0;
	struct stat st;
	int err = 0;

	if (len > UINT32_MAX)
		return -EFBIG;
	put32(head + 4, items > UINT32_MAX ? UINT32_MAX : (uint32_t)items);
	put32(head + 8, (uint32_t)len);
	if (fstat(fd, &st) != 0)
		return -errno;
	while (done < want) {
		ssize_t n = writev(fd, iov, 2);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			err = n < 0 ? -errno : -EIO;
			break;
		}
		done += (size_t)n;
		/* Move the vectors past what was written (rare: regular files write whole). */
		for (int i = 0; i < 2; i++) {
			size_t k = (size_t)n < iov[i].iov_len ? (size_t)n : iov[i].iov_len;

			iov[i].iov_base = (uint8_t *)iov[i].iov_base + k;
			iov[i].iov_len -= k;
			n -= (ssize_t)k;
		}
	}
	/* Half a record would make the whole file unreadable: cut it back. */
	if (err && ftruncate(fd, st.st_size) != 0)
		err = -EIO;
	return err;
}

/* Creates the spool file: beside the file output, else in /tmp. */
static int spool_open_new(struct weft_otlp_spool *s, const char *output_pattern,
			  const char *service)
{
	char expanded[WEFT_CONFIG_STR + 64], dir[WEFT_CONFIG_STR + 64];
	const char *dirs[2] = { dir, "/tmp" };
	int fd = -EINVAL, first = 0;

	weft_config_expand_path(output_pattern, service, getpid(), expanded, sizeof(expanded));
	dir_of(expanded, dir, sizeof(dir));
	for (int d = 0; d < 2; d++) {
		for (int n = 0; n < WEFT_OTLP_SPOOL_TRIES; n++) {
			name_in(dirs[d], service, getpid(), n, s->path, sizeof(s->path));
			fd = weft_otlp_spool_create(s->path);
			if (fd != -EEXIST)
				break;
		}
		if (fd >= 0)
			return fd;
		if (!first)
			first = fd;
	}
	/* Report the first place and why it failed: that is where it was expected. */
	name_in(dir, service, getpid(), 0, s->path, sizeof(s->path));
	return first;
}

int weft_otlp_spool_add(struct weft_otlp_spool *s, const char *output_pattern, const char *service,
			int signal, const uint8_t *body, size_t len, size_t items)
{
	int fd, err;

	if (s->err) {
		err = s->err;
		goto lost;
	}
	if (!s->path[0]) {
		fd = spool_open_new(s, output_pattern, service);
	} else {
		fd = open(s->path, O_WRONLY | O_APPEND | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0)
			fd = -errno;
	}
	if (fd < 0) {
		err = fd;
		s->err = err;
		goto lost;
	}
	err = weft_otlp_spool_append(fd, signal, body, len, items);
	close(fd);
	if (err)
		goto lost;
	s->records[signal]++;
	s->items[signal] += items;
	return 0;
lost:
	s->lost_records[signal]++;
	s->lost_items[signal] += items;
	return err;
}

int weft_otlp_spool_load(const char *path, uint8_t **data, size_t *len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC), err = 0;
	uint8_t *buf = NULL;
	struct stat st;
	size_t have = 0;

	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) != 0) {
		err = -errno;
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		err = -EINVAL;
		goto out;
	}
	buf = weft_alloc((size_t)st.st_size);
	if (!buf) {
		err = -ENOMEM;
		goto out;
	}
	while (have < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + have, (size_t)st.st_size - have);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			err = n < 0 ? -errno : -EIO;
			goto out;
		}
		have += (size_t)n;
	}
	if (have < WEFT_OTLP_SPOOL_HEAD || memcmp(buf, WEFT_OTLP_SPOOL_MAGIC, WEFT_OTLP_SPOOL_HEAD))
		err = -EBADMSG;
out:
	close(fd);
	if (err) {
		weft_free(buf);
		return err;
	}
	*data = buf;
	*len = have;
	return 0;
}

int weft_otlp_spool_next(const uint8_t *data, size_t len, size_t *pos,
			 struct weft_otlp_spooled *rec)
{
	const uint8_t *p = data + *pos;
	size_t body;

	if (*pos == len)
		return 0;
	if (len - *pos < WEFT_OTLP_SPOOL_REC_HEAD || (p[0] != 1 && p[0] != 2) || p[1] || p[2] ||
	    p[3])
		return -EBADMSG;
	body = get32(p + 8);
	if (len - *pos - WEFT_OTLP_SPOOL_REC_HEAD < body)
		return -EBADMSG;
	rec->signal = p[0] - 1;
	rec->items = get32(p + 4);
	rec->body = p + WEFT_OTLP_SPOOL_REC_HEAD;
	rec->len = body;
	*pos += WEFT_OTLP_SPOOL_REC_HEAD + body;
	return 1;
}
