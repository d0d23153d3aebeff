#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "agent/agent.h"
#include "agent/alloc.h"
#include "exporter/resource.h"

enum { MAX_ATTRS = 48, MAX_ARGS = 256 };

static struct weft_attr attrs[MAX_ATTRS];
static size_t n_attrs;
static struct weft_resource resource;
static char service_name[WEFT_CONFIG_STR];
static char instance_id[40];
static char exe_path[512];
static char host_name[256];
static char cmdline[8192];
static const char *args[MAX_ARGS];
/* Decoded pairs take at most the raw length plus one NUL. */
static char user_pairs[sizeof(weft_cfg.resource_attrs) + 2];

static void set_attr(const char *key, enum weft_value_type type, const void *value)
{
	struct weft_attr *a = NULL;

	for (size_t i = 0; i < n_attrs; i++)
		if (strcmp(attrs[i].key, key) == 0)
			a = &attrs[i];
	if (!a) {
		if (n_attrs == MAX_ATTRS)
			return;
		a = &attrs[n_attrs++];
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
	attrs[n_attrs].key = "process.command_args";
	attrs[n_attrs].type = WEFT_VALUE_STRING_ARRAY;
	attrs[n_attrs].v.strs.items = args;
	attrs[n_attrs].v.strs.n = k;
	n_attrs++;
}

void weft_resource_build(void)
{
	static int64_t pid, ppid;
	static const char *exe_name;
	struct utsname uts;
	uint8_t r[16];
	struct weft_rng rng;
	ssize_t len;
	const char *service_from_attrs = NULL;

	n_attrs = 0;
	pid = getpid();
	ppid = getppid();
	len = readlink("/proc/self/exe", exe_path, sizeof(exe_path) - 1);
	exe_path[len > 0 ? len : 0] = '\0';
	exe_name = strrchr(exe_path, '/') ? strrchr(exe_path, '/') + 1 : exe_path;

	/* A random (version 4) UUID, unique per process, new in a forked child. */
	weft_ids_seed(&rng, (uint64_t)pid);
	for (int i = 0; i < 16; i += 8) {
		uint64_t v = weft_ids_next(&rng);
		memcpy(r + i, &v, 8);
	}
	r[6] = (uint8_t)((r[6] & 0x0f) | 0x40);
	r[8] = (uint8_t)((r[8] & 0x3f) | 0x80);
	snprintf(instance_id, sizeof(instance_id),
		 "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", r[0], r[1],
		 r[2], r[3], r[4], r[5], r[6], r[7], r[8], r[9], r[10], r[11], r[12], r[13], r[14],
		 r[15]);
	host_name[0] = '\0';
	if (uname(&uts) == 0)
		snprintf(host_name, sizeof(host_name), "%s", uts.nodename);

	set_attr("service.name", WEFT_VALUE_STRING, exe_name);
	set_attr("service.instance.id", WEFT_VALUE_STRING, instance_id);
	set_attr("process.pid", WEFT_VALUE_INT, &pid);
	set_attr("process.parent_pid", WEFT_VALUE_INT, &ppid);
	set_attr("process.executable.name", WEFT_VALUE_STRING, exe_name);
	set_attr("process.executable.path", WEFT_VALUE_STRING, exe_path);
	if (weft_cfg.capture_args)
		read_cmdline();
	set_attr("host.name", WEFT_VALUE_STRING, host_name);
	set_attr("telemetry.sdk.name", WEFT_VALUE_STRING, "weft");
	set_attr("telemetry.sdk.version", WEFT_VALUE_STRING, WEFT_VERSION);
	if (weft_cfg.resource_attrs[0])
		weft_resource_parse_pairs(weft_cfg.resource_attrs, user_pairs, sizeof(user_pairs),
					  add_user_attr, NULL);
	/* OTEL_SERVICE_NAME wins over service.name in OTEL_RESOURCE_ATTRIBUTES. */
	for (size_t i = 0; i < n_attrs; i++)
		if (strcmp(attrs[i].key, "service.name") == 0)
			service_from_attrs = attrs[i].v.s;
	snprintf(service_name, sizeof(service_name), "%s",
		 weft_cfg.service_name[0] ? weft_cfg.service_name : service_from_attrs);
	set_attr("service.name", WEFT_VALUE_STRING, service_name);

	resource.attrs = attrs;
	resource.n_attrs = n_attrs;
	resource.scope_name = "weft";
	resource.scope_version = WEFT_VERSION;
}

const struct weft_resource *weft_resource_get(void)
{
	return &resource;
}

const char *weft_resource_service_name(void)
{
	return service_name;
}
