/*
 * Diagnostics: weft_log_escape, which every message showing a value uses,
 * and weft_log itself, which writes exactly one line per call.
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "agent/log.h"
#include "tests/unit/harness.h"

static const char *esc(const char *s, size_t n)
{
	static char out[WEFT_LOG_ESCAPED_SIZE];

	return weft_log_escape(s, n, out, sizeof(out));
}

#define ESC(lit) esc(lit, sizeof(lit) - 1)

static void test_plain(void)
{
	expect_str(ESC(""), "");
	expect_str(ESC("http://collector:4318/v1/traces"), "http://collector:4318/v1/traces");
	expect_str(ESC(" !\"#$%&'()*+,-./09:;<=>?@AZ[]^_`az{|}~"),
		   " !\"#$%&'()*+,-./09:;<=>?@AZ[]^_`az{|}~");
}

static void test_controls(void)
{
	expect_str(ESC("a\nb"), "a\\nb");
	expect_str(ESC("a\r\nweft: forged"), "a\\r\\nweft: forged");
	expect_str(ESC("\tx\t"), "\\tx\\t");
	expect_str(ESC("back\\slash"), "back\\\\slash");
	expect_str(ESC("\x1b[31mred\x1b[0m"), "\\x1b[31mred\\x1b[0m");
	expect_str(ESC("\x01\x7f\x1f"), "\\x01\\x7f\\x1f");
	/* A NUL inside the value is shown, not taken for the end. */
	expect_str(ESC("a\0b"), "a\\x00b");
}

static void test_utf8(void)
{
	/* Well-formed and printable: kept. */
	expect_str(ESC("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"),
		   "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80");
	/* Malformed: each byte shown in hex. */
	expect_str(ESC("\xff\xfe"), "\\xff\\xfe");
	expect_str(ESC("\xc3"), "\\xc3");
	expect_str(ESC("\xc3("), "\\xc3(");
	expect_str(ESC("\x80"), "\\x80");
	expect_str(ESC("\xc0\xaf"), "\\xc0\\xaf");                   /* overlong '/' */
	expect_str(ESC("\xe0\x80\xaf"), "\\xe0\\x80\\xaf");          /* overlong */
	expect_str(ESC("\xed\xa0\x80"), "\\xed\\xa0\\x80");          /* a surrogate */
	expect_str(ESC("\xf4\x90\x80\x80"), "\\xf4\\x90\\x80\\x80"); /* past U+10FFFF */
	expect_str(ESC("\xe2\x82"), "\\xe2\\x82");                   /* cut short */
	/* Well-formed but invisible or line-breaking: C1 NEL, LS, RLO. */
	expect_str(ESC("a\xc2\x85"
		       "b"),
		   "a\\xc2\\x85b");
	expect_str(ESC("a\xe2\x80\xa8"
		       "b"),
		   "a\\xe2\\x80\\xa8b");
	expect_str(ESC("a\xe2\x80\xae"
		       "b"),
		   "a\\xe2\\x80\\xaeb");
}

static void test_cut(void)
{
	char in[200], want[300], out[WEFT_LOG_ESCAPED_SIZE];
	size_t len;

	/* 64 bytes are shown whole, 65 are cut to 64 and "...". */
	memset(in, 'x', sizeof(in));
	memset(want, 'x', sizeof(want));
	want[64] = '\0';
	expect_str(esc(in, 64), want);
	memcpy(want + 64, "...", 4);
	expect_str(esc(in, 65), want);
	expect_str(esc(in, sizeof(in)), want);

	/* Escapes count as the bytes they stand for; the buffer holds 64 of the worst. */
	memset(in, '\x01', 100);
	weft_log_escape(in, 100, out, sizeof(out));
	expect_int(strlen(out), 64 * 4 + 3);
	expect_true(strcmp(out + 64 * 4, "...") == 0);

	/* Never half a character: a 2-byte one across the 64th byte is left out. */
	memset(in, 'x', 63);
	memcpy(in + 63, "\xc3\xa9zz", 4);
	weft_log_escape(in, 67, out, sizeof(out));
	expect_int(strlen(out), 66);
	expect_str(out + 63, "...");

	/* A small buffer: cut earlier, never half an escape, always terminated. */
	memset(out, 'Z', sizeof(out));
	weft_log_escape("ab\ncd", 5, out, 7);
	expect_str(out, "ab\\ncd");
	weft_log_escape("ab\ncd", 5, out, 6);
	expect_str(out, "ab...");
	weft_log_escape("abc\ncd", 6, out, 7);
	expect_str(out, "abc...");
	memset(out, 'Z', sizeof(out));
	weft_log_escape("abcdefgh", 8, out, 8);
	expect_str(out, "abcd...");
	expect_int(out[8], 'Z');
	weft_log_escape("abc", 3, out, 4);
	expect_str(out, "abc");
	weft_log_escape("abcd", 4, out, 4);
	expect_str(out, "...");
	weft_log_escape("abcd", 4, out, 3);
	expect_str(out, "");
	out[0] = 'Z';
	weft_log_escape("abc", 3, out, 0);
	expect_int(out[0], 'Z');
	len = strlen(weft_log_escape("abc", 3, out, 1));
	expect_int(len, 0);
}

/* Runs weft_log with fd 2 on a pipe and returns what it wrote. */
static const char *logged(const char *msg)
{
	static char buf[2048];
	int fds[2], saved;
	ssize_t n;

	assert_int(pipe(fds), 0);
	saved = dup(2);
	assert_true(saved >= 0);
	assert_true(dup2(fds[1], 2) == 2);
	weft_warn("value %s, end", msg);
	dup2(saved, 2);
	close(saved);
	close(fds[1]);
	n = read(fds[0], buf, sizeof(buf) - 1);
	close(fds[0]);
	buf[n > 0 ? n : 0] = '\0';
	return buf;
}

/* A control character that reaches weft_log unescaped still cannot break the line. */
static void test_one_line(void)
{
	char e[WEFT_LOG_ESCAPED_SIZE];

	expect_str(logged("plain"), "weft: value plain, end\n");
	expect_str(logged("a\nweft: forged\r\x1b[2J"), "weft: value a?weft: forged??[2J, end\n");
	expect_str(logged(weft_log_escape("a\nb", 3, e, sizeof(e))), "weft: value a\\nb, end\n");
	expect_str(logged("caf\xc3\xa9"), "weft: value caf\xc3\xa9, end\n");
}

int main(void)
{
	test_plain();
	test_controls();
	test_utf8();
	test_cut();
	test_one_line();
	return harness_done();
}
