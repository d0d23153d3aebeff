#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "agent/agent.h"
#include "agent/alloc.h"
#include "agent/large.h"
#include "exporter/resource.h"

enum { MAX_ATTRS = 48, MAX_ARGS = 256 };

/*
 * What every build writes, together and on one page (bss pages are touched
 * only when written: a process's exit pays one page fault here, not four).
 */
static struct {
	struct weft_resource resource;
	int64_t pid, ppid;
	const char *exe_name;
	size_t n_attrs;
	char instance_id[40];
	struct weft_attr attrs[MAX_ATTRS];
	char exe_path[512];
	char host_name[256];
	char service_name[WEFT_CONFIG_STR];
} rs WEFT_LARGE __attribute__((aligned(4096)));
_Static_assert(sizeof(rs) <= 4096, "the resource's strings fit one page");
static char cmdline[8192] WEFT_LARGE;
static const char *args[MAX_ARGS] WEFT_LARGE;
/* Decoded pairs take at most the raw length plus one NUL. */
static char user_pairs[sizeof(weft_cfg.resource_attrs) + 2] WEFT_LARGE;

static void set_attr(const char *key, enum weft_value_type type, const void *value)
{
	struct weft_attr *a = NULL;

	for (size_t i = 0; i < rs.n_attrs; i++)
		if (strcmp(rs.attrs[i].key, key) == 0)
			a = &rs.attrs[i];
	if (!a) {
		if (rs.n_attrs == MAX_ATTRS)
			return;
		a = &rs.attrs[rs.n_attrs++];
	}
	a->key = key;
	a->type = type;
	if (type == WEFT_VALUE_STRING)
		a->v.s = value;
	else if (type == WEFT_VALUE_INT)
		a->v.i = *(const int64_t *)value;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Percent-decodes src[0..n) into dst, trimming surrounding blanks. */
static char *decode(const char *src, size_t n, char *dst)
{
	char *out = dst;

	while (n && (*src == ' ' || *src == '\t'))
		src++, n--;
	while (n && (src[n - 1] == ' ' || src[n - 1] == '\t'))
		n--;
	for (size_t i = 0; i < n; i++) {
		if (src[i] == '%' && i + 2 < n && hexval(src[i + 1]) >= 0 &&
		    hexval(src[i + 2]) >= 0) {
			*out++ = (char)(hexval(src[i + 1]) << 4 | hexval(src[i + 2]));
			i += 2;
		} else {
			*out++ = src[i];
		}
	}
	*out++ = '\0';
	return out;
}

int weft_resource_parse_pairs(const char *s, char *buf, size_t buflen,
			      void (*fn)(const char *key, const char *value, void *arg), void *arg)
{
	char *out = buf;
	const char *p = s;

	/* Decoding never lengthens: the input's length bounds the output. */
	if (strlen(s) + 2 > buflen)
		return -ENOSPC;
	while (*p) {
		const char *end = strchr(p, ',');
		const char *eq;
		size_t len = end ? (size_t)(end - p) : strlen(p);
		char *key, *value;

		/*
		 * An item that is not key=value is skipped without a word: the
		 * configuration has already said so, once for the whole variable
		 * (OTEL_RESOURCE_ATTRIBUTES), or the caller has (headers, which
		 * are never shown).
		 */
		eq = memchr(p, '=', len);
		if (eq && eq != p) {
			key = out;
			value = decode(p, (size_t)(eq - p), key);
			out = decode(eq + 1, len - (size_t)(eq - p) - 1, value);
			if (key[0])
				fn(key, value, arg);
		}
		if (!end)
			break;
		p = end + 1;
	}
	return 0;
}

static void add_user_attr(const char *key, const char *value, void *arg)
{
	/* telemetry.sdk.* describe weft itself and are not the user's to change. */
	if (strncmp(key, "telemetry.sdk.", 14) == 0)
		return;
	set_attr(key, WEFT_VALUE_STRING, value);
}

static void read_cmdline(void)
{
	size_t n = 0, k = 0;
	int fd = open("/proc/self/cmdline", O_RDONLY | O_CLOEXEC);

	if (fd >= 0) {
		ssize_t r;

		while (n < sizeof(cmdline) - 1 &&
		       (r = read(fd, cmdline + n, sizeof(cmdline) - 1 - n)) > 0)
			n += (size_t)r;
		close(fd);
	}
	cmdline[n] = '\0';
	for (size_t i = 0; i < n && k < MAX_ARGS; i += strlen(cmdline + i) + 1)
		args[k++] = cmdline + i;
	rs.attrs[rs.n_attrs].key = "process.command_args";
	rs.attrs[rs.n_attrs].type = WEFT_VALUE_STRING_ARRAY;
	rs.attrs[rs.n_attrs].v.strs.items = args;
	rs.attrs[rs.n_attrs].v.strs.n = k;
	rs.n_attrs++;
}

/* s cut to fit size bytes with its NUL; NULL as "(null)", as snprintf's "%s" would. */
static void copy_str(char *out, size_t size, const char *s)
{
	size_t n;

	if (!s)
		s = "(null)";
	n = strnlen(s, size - 1);
	memcpy(out, s, n);
	out[n] = '\0';
}

/* 8-4-4-4-12 lowercase hex digits, without printf. */
static void format_uuid(const uint8_t r[16], char out[37])
{
	static const char hex[] = "0123456789abcdef";
	char *o = out;

	for (int i = 0; i < 16; i++) {
		if (i == 4 || i == 6 || i == 8 || i == 10)
			*o++ = '-';
		*o++ = hex[r[i] >> 4];
		*o++ = hex[r[i] & 15];
	}
	*o = '\0';
}

const char *weft_resource_exe_path(void)
{
	return rs.exe_path;
}

void weft_resource_build(void)
{
	struct utsname uts;
	uint8_t r[16];
	struct weft_rng rng;
	ssize_t len;
	const char *service_from_attrs = NULL;

	rs.n_attrs = 0;
	rs.pid = getpid();
	rs.ppid = getppid();
	/*
	 * A forked child runs its parent's executable: the parent's path is
	 * kept. A process's first look into /proc (its /proc/<pid> entries made
	 * and, at its exit, dropped) took about 40 us, an eighth of a fork.
	 */
	if (!rs.exe_path[0]) {
		len = readlink("/proc/self/exe", rs.exe_path, sizeof(rs.exe_path) - 1);
		rs.exe_path[len > 0 ? len : 0] = '\0';
	}
	rs.exe_name = strrchr(rs.exe_path, '/') ? strrchr(rs.exe_path, '/') + 1 : rs.exe_path;

	/* A random (version 4) UUID, unique per process, new in a forked child. */
	weft_ids_seed(&rng, (uint64_t)rs.pid);
	for (int i = 0; i < 16; i += 8) {
		uint64_t v = weft_ids_next(&rng);
		memcpy(r + i, &v, 8);
	}
	r[6] = (uint8_t)((r[6] & 0x0f) | 0x40);
	r[8] = (uint8_t)((r[8] & 0x3f) | 0x80);
	format_uuid(r, rs.instance_id);
	rs.host_name[0] = '\0';
	if (uname(&uts) == 0)
		copy_str(rs.host_name, sizeof(uts.nodename),
			 uts.nodename); /* smaller than host_name */

	set_attr("service.name", WEFT_VALUE_STRING, rs.exe_name);
	set_attr("service.instance.id", WEFT_VALUE_STRING, rs.instance_id);
	set_attr("process.pid", WEFT_VALUE_INT, &rs.pid);
	set_attr("process.parent_pid", WEFT_VALUE_INT, &rs.ppid);
	set_attr("process.executable.name", WEFT_VALUE_STRING, rs.exe_name);
	set_attr("process.executable.path", WEFT_VALUE_STRING, rs.exe_path);
	if (weft_cfg.capture_args)
		read_cmdline();
	set_attr("host.name", WEFT_VALUE_STRING, rs.host_name);
	set_attr("telemetry.sdk.name", WEFT_VALUE_STRING, "weft");
	set_attr("telemetry.sdk.version", WEFT_VALUE_STRING, WEFT_VERSION);
	if (weft_cfg.resource_attrs[0])
		weft_resource_parse_pairs(weft_cfg.resource_attrs, user_pairs, sizeof(user_pairs),
					  add_user_attr, NULL);
	/* OTEL_SERVICE_NAME wins over service.name in OTEL_RESOURCE_ATTRIBUTES. */
	for (size_t i = 0; i < rs.n_attrs; i++)
		if (strcmp(rs.attrs[i].key, "service.name") == 0)
			service_from_attrs = rs.attrs[i].v.s;
	copy_str(rs.service_name, sizeof(rs.service_name),
		 weft_cfg.service_name[0] ? weft_cfg.service_name : service_from_attrs);
	set_attr("service.name", WEFT_VALUE_STRING, rs.service_name);

	rs.resource.attrs = rs.attrs;
	rs.resource.n_attrs = rs.n_attrs;
	rs.resource.scope_name = "weft";
	rs.resource.scope_version = WEFT_VERSION;
}

const struct weft_resource *weft_resource_get(void)
{
	return &rs.resource;
}

const char *weft_resource_service_name(void)
{
	return rs.service_name;
}
