/*
 * agent/channel_exec.c: the WEFT_CHANNELS list an exec hook passes (what it
 * lists, the copy of the environment) and its adoption by the new image
 * (names, descriptors, entry bits, shared, counters; garbage ignored; the
 * variable removed from the environment).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "agent/alloc.h"
#include "agent/channel.h"
#include "agent/channel_exec.h"
#include "harness.h"

extern char **environ;

static const char *var_of(char **env)
{
	for (int i = 0; env && env[i]; i++)
		if (strncmp(env[i], "WEFT_CHANNELS=", 14) == 0)
			return env[i] + 14;
	return NULL;
}

static int count_var(char **env)
{
	int n = 0;

	for (int i = 0; env && env[i]; i++)
		n += strncmp(env[i], "WEFT_CHANNELS=", 14) == 0;
	return n;
}

static _Alignas(void *) char stack_buf[4096];
static bool allocated;

/* The copy in the caller's buffer (the hooks' stack). */
static char **env_of(char *const envp[])
{
	return weft_chan_exec_env(envp, stack_buf, sizeof(stack_buf), false, &allocated, true,
				  NULL);
}

/* The list an exec would pass, and the copy around it. */
static void test_env(void)
{
	char *envp[] = { "A=1", "WEFT_CHANNELS=7:1:pipe:stale#1", "LD_PRELOAD=/x/libweft.so", "B=2",
			 NULL };
	char *no_preload[] = { "A=1", NULL };
	char want[256], **copy;
	int p[2];
	uint32_t id;
	struct weft_chan *c;

	/* No channel yet: the environment goes unchanged. */
	expect_true(env_of(envp) == NULL);
	assert_int(pipe(p), 0);
	id = weft_chan_create(WEFT_CHAN_PIPE, p, 2, 0, 0, NULL);
	assert_true(id != 0);
	c = weft_chan_slot(id);

	/* Unnamed: the kind and the slot; both ends, each with its bits. */
	errno = 1234;
	copy = env_of(envp);
	expect_int(errno, 1234);
	assert_true(copy != NULL);
	expect_true((char *)copy == stack_buf && !allocated);
	snprintf(want, sizeof(want), "%d:%u:pipe@%u;%d:%u:pipe@%u", p[0], WEFT_CHAN_READ, id, p[1],
		 WEFT_CHAN_WRITE | WEFT_CHAN_END1, id);
	expect_str(var_of(copy), want);
	expect_int(count_var(copy), 1); /* the inherited one replaced */
	expect_str(copy[0], "A=1");
	expect_str(copy[1], "LD_PRELOAD=/x/libweft.so");
	expect_str(copy[2], "B=2");
	expect_true(copy[4] == NULL);
	expect_str(envp[1], "WEFT_CHANNELS=7:1:pipe:stale#1"); /* the caller's is untouched */

	/* Too big for the buffer: from the allocator if allowed, else nothing. */
	copy = weft_chan_exec_env(envp, stack_buf, 16, true, &allocated, true, NULL);
	assert_true(copy != NULL);
	expect_true((char *)copy != stack_buf && allocated);
	expect_str(var_of(copy), want);
	errno = 1234;
	weft_chan_exec_free(copy);
	expect_int(errno, 1234);
	expect_true(weft_chan_exec_env(envp, stack_buf, 16, false, &allocated, true, NULL) == NULL);
	expect_true(!allocated);

	/* Named, and the read end close-on-exec: only the write end, under its name. */
	snprintf(c->name, sizeof(c->name), "pipe:make;it#3");
	c->named = c->gen + 1;
	assert_int(fcntl(p[0], F_SETFD, FD_CLOEXEC), 0);
	copy = env_of(envp);
	assert_true(copy != NULL);
	snprintf(want, sizeof(want), "%d:%u:pipe:make_it#3", p[1],
		 WEFT_CHAN_WRITE | WEFT_CHAN_END1);
	expect_str(var_of(copy), want);

	/* A new image without libweft would not read it: nothing added. */
	expect_true(env_of(no_preload) == NULL);
	expect_true(env_of(NULL) == NULL);

	/* Every descriptor close-on-exec: nothing to pass. */
	assert_int(fcntl(p[1], F_SETFD, FD_CLOEXEC), 0);
	expect_true(env_of(envp) == NULL);
	weft_chan_closed(p[0]);
	weft_chan_closed(p[1]);
	close(p[0]);
	close(p[1]);
}

/* WEFT_TRACEPARENT: added for an image that preloads weft; channels too. */
static void test_traceparent(void)
{
	static const char tp[] = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
	char *envp[] = { "TRACEPARENT=00-11111111111111111111111111111111-2222222222222222-00",
			 "LD_PRELOAD=libweft.so", NULL };
	char *no_preload[] = { "A=1", NULL };
	char **copy;
	int p[2];

	copy = weft_chan_exec_env(envp, stack_buf, sizeof(stack_buf), false, &allocated, true, tp);
	assert_true(copy != NULL);
	/* The program's own TRACEPARENT goes through as it is; weft's context is its own. */
	expect_str(copy[0], "TRACEPARENT=00-11111111111111111111111111111111-2222222222222222-00");
	expect_str(copy[1], "LD_PRELOAD=libweft.so");
	expect_str(copy[2],
		   "WEFT_TRACEPARENT=00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01");
	expect_true(copy[3] == NULL);
	expect_true(weft_chan_exec_env(no_preload, stack_buf, sizeof(stack_buf), false, &allocated,
				       true, tp) == NULL);
	/* With a channel: both, and the channels only when asked for. */
	assert_int(pipe(p), 0);
	assert_true(weft_chan_create(WEFT_CHAN_PIPE, p, 2, 0, 0, NULL) != 0);
	copy = weft_chan_exec_env(envp, stack_buf, sizeof(stack_buf), false, &allocated, true, tp);
	assert_true(copy != NULL);
	expect_int(count_var(copy), 1);
	expect_str(copy[3],
		   "WEFT_TRACEPARENT=00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01");
	expect_true(copy[4] == NULL);
	copy = weft_chan_exec_env(envp, stack_buf, sizeof(stack_buf), false, &allocated, false, tp);
	assert_true(copy != NULL);
	expect_int(count_var(copy), 0);
	weft_chan_closed(p[0]);
	weft_chan_closed(p[1]);
	close(p[0]);
	close(p[1]);
}

/* The format the child parses back. */
static void test_format(void)
{
	struct weft_trace_id trace, back;
	char out[WEFT_TRACEPARENT_LEN + 1];
	uint64_t span;
	uint8_t flags;

	for (int i = 0; i < 16; i++)
		trace.b[i] = (uint8_t)(0x10 * i + 1);
	weft_ids_format_traceparent(&trace, 0x0123456789abcdefULL, 1, out);
	expect_str(out, "00-01112131415161718191a1b1c1d1e1f1-0123456789abcdef-01");
	assert_int(weft_ids_parse_traceparent(out, &back, &span, &flags), 0);
	expect_true(memcmp(&back, &trace, sizeof(trace)) == 0);
	expect_true(span == 0x0123456789abcdefULL && flags == 1);
}

static struct weft_chan *chan_of(int fd)
{
	return weft_chan_slot(weft_chan_entry_id(weft_chan_fd(fd)));
}

/* The new image: what the list names becomes channels; garbage is ignored. */
static void test_adopt(void)
{
	int p[2], s[2], e, file, fifo[2], lone[2];
	char list[2048];
	struct weft_chan *c;
	const char *before_last;
	uint32_t pipe_id;

	assert_int(pipe(p), 0);
	assert_int(socketpair(AF_UNIX, SOCK_STREAM, 0, s), 0);
	assert_true((e = eventfd(0, 0)) >= 0);
	assert_true((file = open("/dev/null", O_RDONLY)) >= 0);
	assert_int(pipe(fifo), 0);
	assert_int(pipe(lone), 0);
	snprintf(list, sizeof(list),
		 /* valid: a pipe, both ends, under its name */
		 "%d:1:pipe:make_pipes#1;%d:18:pipe:make_pipes#1;"
		 /* valid: a socketpair's second end; an unnamed eventfd */
		 "%d:27:socketpair:make_pair#2;%d:3:eventfd@12;"
		 /* garbage */
		 ";;abc;-1:1:pipe:x#1;99999999:1:pipe:x#1;%d:1:pipe:x#1;%d:0:pipe:y#1;"
		 "%d:64:pipe:y#1;%d:1:tube:y#1;%d:1:;%d:1:pipe:%s#1;%d:1:pipe:make_pipes#9;"
		 "%d:1:socketpair:wrongkind#1;%d:x:pipe:z#1;%d:1:pipe:z#1x:;1000:1:pipe:closed#1;"
		 /* valid: an unnamed pipe end */
		 "%d:1:pipe@4",
		 p[0], p[1], s[1], e, file, fifo[0], fifo[0], fifo[0], fifo[0], fifo[0],
		 "0123456789012345678901234567890123456789012345678901234567890123", p[0], fifo[0],
		 fifo[0], fifo[0], lone[0]);
	assert_int(setenv("BEFORE", "1", 1), 0);
	assert_int(setenv("WEFT_CHANNELS", list, 1), 0);
	assert_int(setenv("AFTER", "2", 1), 0);
	before_last = getenv("AFTER");

	expect_int(weft_chan_exec_init(true), 4);
	expect_true(getenv("WEFT_CHANNELS") == NULL);
	expect_str(getenv("BEFORE"), "1");
	expect_true(getenv("AFTER") == before_last);

	/* The pipe: one channel, both descriptors, its name kept, shared, counters at 0. */
	c = chan_of(p[0]);
	assert_true(c != NULL);
	pipe_id = weft_chan_entry_id(weft_chan_fd(p[0]));
	expect_true(chan_of(p[1]) == c);
	expect_str(c->name, "pipe:make_pipes#1");
	expect_int(c->named, c->gen + 1);
	expect_int(c->kind, WEFT_CHAN_PIPE);
	expect_true(c->inherited);
	expect_true(weft_chan_shared(c));
	expect_int(c->state, WEFT_CHAN_LIVE);
	expect_int(c->refs[0], 1);
	expect_int(c->refs[1], 1);
	expect_int(weft_chan_tx_msgs(&c->q[0]) + weft_chan_rx_msgs(&c->q[0]) +
			   weft_chan_tx_msgs(&c->q[1]) + weft_chan_rx_msgs(&c->q[1]),
		   0);
	expect_int(weft_chan_fd(p[0]) & 63, WEFT_CHAN_READ);
	expect_int(weft_chan_fd(p[1]) & 63, WEFT_CHAN_WRITE | WEFT_CHAN_END1);

	c = chan_of(s[1]);
	assert_true(c != NULL);
	expect_str(c->name, "socketpair:make_pair#2");
	expect_int(c->kind, WEFT_CHAN_SOCKETPAIR);
	expect_int(weft_chan_fd(s[1]) & 63, 27);
	expect_true(weft_chan_fd(s[0]) == 0);

	c = chan_of(e);
	assert_true(c != NULL);
	expect_str(c->name, "eventfd:inherited#1");
	expect_int(c->kind, WEFT_CHAN_EVENTFD);

	c = chan_of(lone[0]);
	assert_true(c != NULL);
	expect_str(c->name, "pipe:inherited#1");
	expect_true(weft_chan_shared(c));

	/* The garbage made nothing; the first item for a descriptor wins. */
	expect_true(weft_chan_fd(file) == 0);
	expect_true(weft_chan_fd(fifo[0]) == 0);
	expect_true(weft_chan_fd(1000) == 0);

	/* Closing every descriptor closes an inherited channel, a FIFO's too. */
	weft_chan_closed(p[0]);
	weft_chan_closed(p[1]);
	expect_int(chan_of(p[0]) == NULL, 1);
	expect_int(weft_chan_slot(pipe_id)->state, WEFT_CHAN_CLOSED);
	snprintf(list, sizeof(list), "%d:3:fifo:make_fifo#1", fifo[1]);
	assert_int(setenv("WEFT_CHANNELS", list, 1), 0);
	expect_int(weft_chan_exec_init(true), 1);
	c = chan_of(fifo[1]);
	assert_true(c != NULL);
	expect_int(c->kind, WEFT_CHAN_FIFO);
	expect_str(c->name, "fifo:make_fifo#1");
	weft_chan_closed(fifo[1]);
	expect_int(c->state, WEFT_CHAN_CLOSED);

	/* Without adoption (weft disabled) the variable still goes. */
	assert_int(setenv("WEFT_CHANNELS", "1:1:pipe:x#1", 1), 0);
	expect_int(weft_chan_exec_init(false), 0);
	expect_true(getenv("WEFT_CHANNELS") == NULL);
	expect_int(weft_chan_exec_init(true), 0);
}

/* Lists cut anywhere, and one far longer than the table takes: nothing, no crash. */
static void test_garbage(void)
{
	static const char *const cut[] = {
		"",           ":",   "::",     ":::",           ";",         "0",
		"0:",         "0:1", "0:1:",   "0:1:pipe",      "0:1:pipe:", "0:1:pipe@",
		"0:1:pipe@;", "=",   "0:1:=;", "\xff:\xff:\xff"
	};
	static char big[1 << 16];
	size_t n = 0;

	for (size_t i = 0; i < sizeof(cut) / sizeof(cut[0]); i++) {
		assert_int(setenv("WEFT_CHANNELS", cut[i], 1), 0);
		expect_int(weft_chan_exec_init(true), 0);
		expect_true(getenv("WEFT_CHANNELS") == NULL);
	}
	while (n + 32 < sizeof(big))
		n += (size_t)snprintf(big + n, sizeof(big) - n, "0:1:pipe:a#%zu;", n);
	assert_int(setenv("WEFT_CHANNELS", big, 1), 0);
	expect_int(weft_chan_exec_init(true), 0); /* descriptor 0 is no pipe here */
	expect_true(weft_chan_fd(0) == 0);
}

int main(void)
{
	test_env();
	test_traceparent();
	test_format();
	test_adopt();
	test_garbage();
	return harness_done();
}
