/*
 * Channels across exec: the list the exec hooks pass to the new image, and
 * its adoption there (agent/channel_exec.h says what and why).
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "agent/alloc.h"
#include "agent/atomic.h"
#include "agent/channel.h"
#include "agent/channel_exec.h"
#include "agent/large.h"

extern char **environ;

enum {
	VAR_LEN = sizeof(WEFT_CHANNELS_VAR) - 1,
	ITEM_MAX = 12 + 4 + 64 + 1, /* "<fd>:<bits>:<name>;" */
	NAME_MAX_LEN = 63,
	ADOPT_MAX = 256, /* descriptors adopted at most */
	BITS_MASK = (1u << WEFT_CHAN_SLOT_SHIFT) - 1,
};

static const enum weft_chan_kind kinds[] = { WEFT_CHAN_PIPE, WEFT_CHAN_EVENTFD,
					     WEFT_CHAN_SOCKETPAIR, WEFT_CHAN_FIFO };

/* Whether `fd` is open and stays open across exec. */
static bool survives_exec(int fd)
{
	long flags = syscall(SYS_fcntl, fd, F_GETFD);

	return flags >= 0 && !(flags & FD_CLOEXEC);
}

/* Whether `env` preloads libweft: only then does the new image read the list. */
static bool preloads_weft(char *const env[])
{
	for (size_t i = 0; env[i]; i++)
		if (env[i][0] == 'L' && strncmp(env[i], "LD_PRELOAD=", 11) == 0 &&
		    strstr(env[i] + 11, "libweft"))
			return true;
	return false;
}

static char *put_str(char *p, const char *s)
{
	while (*s)
		*p++ = *s++;
	return p;
}

static char *put_uint(char *p, unsigned long v)
{
	char digits[24];
	int n = 0;

	do
		digits[n++] = (char)('0' + v % 10);
	while ((v /= 10) != 0);
	while (n)
		*p++ = digits[--n];
	return p;
}

/* One item for descriptor `fd` (entry `e`) at `p`; returns the end, or `p` if none. */
static char *put_item(char *p, int fd, uint32_t e)
{
	uint32_t id = weft_chan_entry_id(e);
	struct weft_chan *c = weft_chan_slot(id);
	char *start = p;

	if (!c || weft_load_acquire(&c->state) != WEFT_CHAN_LIVE || !survives_exec(fd))
		return p;
	p = put_uint(p, (unsigned long)fd);
	*p++ = ':';
	p = put_uint(p, e & BITS_MASK);
	*p++ = ':';
	if (weft_load_acquire(&c->named) == c->gen + 1) {
		size_t n = strnlen(c->name, sizeof(c->name) - 1);

		for (size_t i = 0; i < n; i++) /* the separators cannot be in a name */
			*p++ = c->name[i] == ';' || c->name[i] == '=' ? '_' : c->name[i];
		if (n == 0)
			return start;
	} else {
		p = put_str(p, weft_chan_kind_name((enum weft_chan_kind)c->kind));
		*p++ = '@';
		p = put_uint(p, id);
	}
	*p++ = ';';
	return p;
}

/* Whether env[i] is the variable `name` (given with its '='). */
static bool is_var(const char *var, const char *name, size_t len)
{
	return var[0] == name[0] && strncmp(var, name, len) == 0;
}

char **weft_chan_exec_env(char *const envp[], void *buf, size_t buf_size, bool may_alloc,
			  bool *allocated, bool channels, const char *traceparent)
{
	static const char tp_var[] = WEFT_TRACEPARENT_VAR "=";
	int saved = errno, fd = -1, n = 0;
	size_t nenv = 0, size, tp_size = traceparent ? sizeof(tp_var) + strlen(traceparent) : 0;
	uint32_t e;
	char **copy, *var, *tp, *p, *end;

	*allocated = false;
	if (!envp)
		return NULL;
	while (channels && (fd = weft_chan_fd_next(fd + 1, &e)) >= 0)
		n += survives_exec(fd);
	if ((n == 0 && !traceparent) || !preloads_weft(envp))
		return NULL;
	while (envp[nenv])
		nenv++;
	size = (nenv + 3) * sizeof(char *) + VAR_LEN + 2 + (size_t)n * ITEM_MAX + tp_size;
	if (size <= buf_size) {
		copy = buf;
	} else if (!may_alloc || !(copy = weft_alloc(size))) {
		errno = saved;
		return NULL;
	} else {
		*allocated = true;
	}
	var = (char *)(copy + nenv + 3);
	end = var + VAR_LEN + 2 + (size_t)n * ITEM_MAX - 1;
	p = put_str(var, WEFT_CHANNELS_VAR "=");
	/* The table may have grown since the count: only what fits. */
	for (fd = weft_chan_fd_next(0, &e); n && fd >= 0 && end - p >= ITEM_MAX;
	     fd = weft_chan_fd_next(fd + 1, &e))
		p = put_item(p, fd, e);
	if (p[-1] == ';')
		p--;
	*p = '\0';
	tp = end + 1;
	if (traceparent)
		*put_str(put_str(tp, tp_var), traceparent) = '\0';
	{
		size_t k = 0;

		for (size_t i = 0; i < nenv; i++)
			if (!is_var(envp[i], WEFT_CHANNELS_VAR "=", VAR_LEN + 1) &&
			    (!traceparent || !is_var(envp[i], tp_var, sizeof(tp_var) - 1)))
				copy[k++] = envp[i];
		if (n)
			copy[k++] = var;
		if (traceparent)
			copy[k++] = tp;
		copy[k] = NULL;
	}
	errno = saved;
	return copy;
}

void weft_chan_exec_free(char **env)
{
	int saved = errno;

	weft_free(env);
	errno = saved;
}

/* ------------------------------------------------------------ the new image */

struct item {
	int fd;
	uint32_t bits;
	const char *name; /* in the variable's value, `len` bytes */
	size_t len;
	bool done;
};

/* A decimal number below `limit` at *s, advanced past it; -1 if none. */
static long parse_uint(const char **s, long limit)
{
	long v = 0;
	const char *p = *s;

	if (*p < '0' || *p > '9')
		return -1;
	while (*p >= '0' && *p <= '9') {
		v = v * 10 + (*p++ - '0');
		if (v >= limit)
			return -1;
	}
	*s = p;
	return v;
}

/* The kind a name starts with (`pipe:` or `pipe@`), its length in *klen; NONE if none. */
static enum weft_chan_kind kind_of(const char *name, size_t len, size_t *klen)
{
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		const char *k = weft_chan_kind_name(kinds[i]);
		size_t n = strlen(k);

		if (len > n + 1 && memcmp(name, k, n) == 0 && (name[n] == ':' || name[n] == '@')) {
			*klen = n;
			return kinds[i];
		}
	}
	return WEFT_CHAN_NONE;
}

/* Whether the open file behind `fd` can be a channel of `kind`. */
static bool fd_fits(int fd, enum weft_chan_kind kind)
{
	struct stat st;
	mode_t type;

	if (syscall(SYS_fcntl, fd, F_GETFD) < 0 || syscall(SYS_fstat, fd, &st) != 0)
		return false;
	type = st.st_mode & S_IFMT;
	switch (kind) {
	case WEFT_CHAN_PIPE:
	case WEFT_CHAN_FIFO:
		return type == S_IFIFO;
	case WEFT_CHAN_SOCKETPAIR:
		return type == S_IFSOCK;
	default:
		return type != S_IFIFO && type != S_IFSOCK && type != S_IFREG && type != S_IFDIR &&
		       type != S_IFCHR && type != S_IFBLK && type != S_IFLNK;
	}
}

/*
 * Parses the list into items[]; malformed items are skipped, and so is any
 * item for a descriptor an earlier item named. Returns how many.
 */
static int parse(const char *s, struct item *items)
{
	int n = 0;

	while (*s && n < ADOPT_MAX) {
		const char *next = strchr(s, ';'), *name;
		long fd, bits;
		bool dup = false;

		if (!next)
			next = s + strlen(s);
		fd = parse_uint(&s, WEFT_CHAN_FD_CHUNK * WEFT_CHAN_FD_CHUNKS);
		if (fd >= 0 && *s == ':' && (s++, bits = parse_uint(&s, BITS_MASK + 1)) >= 0 &&
		    *s == ':' && (bits & (WEFT_CHAN_READ | WEFT_CHAN_WRITE))) {
			size_t klen;

			name = s + 1;
			for (int i = 0; i < n; i++)
				dup |= items[i].fd == (int)fd;
			if (!dup && next - name > 0 && next - name <= NAME_MAX_LEN &&
			    kind_of(name, (size_t)(next - name), &klen) != WEFT_CHAN_NONE) {
				items[n] = (struct item){ .fd = (int)fd,
							  .bits = (uint32_t)bits,
							  .name = name,
							  .len = (size_t)(next - name) };
				n++;
			}
		}
		s = *next ? next + 1 : next;
	}
	return n;
}

/* Adopts the listed channels; returns how many were created. */
static int adopt(const char *list)
{
	static struct item items[ADOPT_MAX] WEFT_LARGE; /* initialisation is single-threaded */
	int fds[ADOPT_MAX], inherited[sizeof(kinds) / sizeof(kinds[0])] = { 0 };
	uint32_t bits[ADOPT_MAX];
	int n = parse(list, items), created = 0;

	for (int i = 0; i < n; i++) {
		struct item *it = &items[i];
		enum weft_chan_kind kind;
		size_t klen;
		char name[NAME_MAX_LEN + 1];
		int k = 0;

		if (it->done || (kind = kind_of(it->name, it->len, &klen)) == WEFT_CHAN_NONE)
			continue;
		/* Every descriptor of the channel: the items with the same name. */
		for (int j = i; j < n; j++) {
			struct item *o = &items[j];

			if (o->done || o->len != it->len || memcmp(o->name, it->name, it->len) != 0)
				continue;
			o->done = true;
			if (!weft_chan_fd(o->fd) && fd_fits(o->fd, kind)) {
				fds[k] = o->fd;
				bits[k++] = o->bits;
			}
		}
		if (k == 0)
			continue;
		if (it->name[klen] == '@') {
			int *count = &inherited[kind - WEFT_CHAN_PIPE];
			char *p = put_str(name, weft_chan_kind_name(kind));

			p = put_str(p, ":inherited#");
			p = put_uint(p, (unsigned long)++*count);
			*p = '\0';
		} else {
			memcpy(name, it->name, it->len);
			name[it->len] = '\0';
		}
		created += weft_chan_create_named(kind, name, fds, bits, k) != 0;
	}
	return created;
}

/*
 * Takes variable `name` (its length `len`, '=' included) out of the
 * environment: its value (which stays valid: only the array changes), or
 * NULL. In place and without libc's unsetenv: a hook may initialise the agent
 * while its thread holds libc's environment lock.
 */
static const char *take_var(const char *name, size_t len)
{
	char **env = environ;
	const char *value = NULL;
	size_t i = 0, j;

	if (!env)
		return NULL;
	while (env[i] && strncmp(env[i], name, len) != 0)
		i++;
	if (!env[i])
		return NULL;
	value = env[i] + len;
	for (j = i; env[i]; i++)
		if (strncmp(env[i], name, len) != 0)
			env[j++] = env[i];
	env[j] = NULL;
	return value;
}

int weft_chan_exec_init(bool adopt_them)
{
	int saved = errno, created = 0;
	const char *list = take_var(WEFT_CHANNELS_VAR "=", VAR_LEN + 1);

	if (list && adopt_them)
		created = adopt(list);
	errno = saved;
	return created;
}

bool weft_exec_take_traceparent(char out[WEFT_TRACEPARENT_LEN + 1])
{
	const char *v = take_var(WEFT_TRACEPARENT_VAR "=", sizeof(WEFT_TRACEPARENT_VAR));

	if (!v || strlen(v) != WEFT_TRACEPARENT_LEN)
		return false;
	memcpy(out, v, WEFT_TRACEPARENT_LEN + 1);
	return true;
}
