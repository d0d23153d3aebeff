/*
 * Readable names for mangled symbols (exporter/demangle.h): C++ and Rust
 * (legacy and v0) names become their qualified names without parameters or
 * hash, C names and malformed ones are left alone (0), a readable name that
 * does not fit is left mangled, and the stack rule holds: a name longer than
 * WEFT_DEMANGLE_MAX_PROGRAM is demangled on weft's own threads only (up to
 * WEFT_DEMANGLE_MAX), and none on a signal's alternate stack.
 */
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "agent/guard.h"
#include "exporter/demangle.h"
#include "tests/unit/harness.h"

static char out[1024];

/* What weft_demangle makes of `name`, or "" when it leaves it. */
static const char *readable(const char *name)
{
	memset(out, 'x', sizeof(out));
	return weft_demangle(name, out, sizeof(out)) ? out : "";
}

static void test_names(void)
{
	/* C++: functions, methods, templates, lambdas, statics; no parameters. */
	expect_str(readable("_ZN5Queue3popEv"), "Queue::pop");
	expect_str(readable("_ZN3app5Queue4pushEPvm"), "app::Queue::push");
	expect_str(readable("_ZL8consumerPv"), "consumer");
	expect_str(readable("_Z6workerPv"), "worker");
	expect_str(
		readable("_ZNSt6thread11_State_implINS_8_InvokerISt5tupleIJZ4mainEUlvE_EEEEE6_M_"
			 "runEv"),
		"std::thread::_State_impl<std::thread::_Invoker<std::tuple<main::{lambda()#1}> > "
		">::_M_run");
	/* Rust, legacy (a C++ name with a hash, left out) and v0. */
	expect_str(readable("_ZN3std2rt10lang_start17h0123456789abcdefE"), "std::rt::lang_start");
	expect_str(readable("_ZN4main4main17h1234567890abcdefE"), "main::main");
	expect_str(readable("_RNvNvMs0_NtNtNtCsjrHSEGnQ3l9_3std3sys6thread4unixNtB7_6Thread3new12"
			    "thread_start"),
		   "<std::sys::thread::unix::Thread>::new::thread_start");
	/* Not mangled, or not well: left as they are. */
	expect_str(readable("main"), "");
	expect_str(readable("_start"), "");
	expect_str(readable("_Zfoo"), "");
	expect_str(readable("_R"), "");
	expect_str(readable(""), "");
	expect_int(weft_demangle(NULL, out, sizeof(out)), 0);
	/* The length, and nothing when the readable name does not fit. */
	expect_int(weft_demangle("_ZN5Queue3popEv", out, sizeof(out)), strlen("Queue::pop"));
	expect_int(weft_demangle("_ZN5Queue3popEv", out, 11), 10);
	expect_int(weft_demangle("_ZN5Queue3popEv", out, 10), 0);
	expect_int(weft_demangle("_ZN5Queue3popEv", out, 0), 0);
}

/* A valid nested name `_ZN` + n x `3abc` + `E` (readable: abc::abc::...). */
static char *nested(int n)
{
	char *s = malloc(4 + 4 * (size_t)n + 1);

	strcpy(s, "_ZN");
	for (int i = 0; i < n; i++)
		strcat(s, "3abc");
	strcat(s, "E");
	return s;
}

static void test_lengths(void)
{
	char *fits = nested((WEFT_DEMANGLE_MAX_PROGRAM - 4) / 4);
	char *longer = nested((WEFT_DEMANGLE_MAX_PROGRAM - 4) / 4 + 1);
	char *longest = nested((WEFT_DEMANGLE_MAX - 4) / 4 + 1);
	static char big[16384];

	expect_true(strlen(fits) <= WEFT_DEMANGLE_MAX_PROGRAM);
	expect_true(strlen(longer) > WEFT_DEMANGLE_MAX_PROGRAM);
	/* A program's thread: up to WEFT_DEMANGLE_MAX_PROGRAM. */
	weft_tls.own_table = false;
	expect_true(weft_demangle(fits, big, sizeof(big)) > 0);
	expect_int(strncmp(big, "abc::abc::", 10), 0);
	expect_int(weft_demangle(longer, big, sizeof(big)), 0);
	/* weft's own threads (a table of their own): up to WEFT_DEMANGLE_MAX. */
	weft_tls.own_table = true;
	expect_true(weft_demangle(longer, big, sizeof(big)) > 0);
	expect_int(weft_demangle(longest, big, sizeof(big)), 0);
	weft_tls.own_table = false;
	free(fits);
	free(longer);
	free(longest);
}

static volatile size_t in_handler = 99;

static void on_signal(int sig)
{
	char buf[64];

	(void)sig;
	in_handler = weft_demangle("_ZN5Queue3popEv", buf, sizeof(buf));
}

/* On a signal's alternate stack nothing is demangled; on the thread's own stack it is. */
static void test_alternate_stack(void)
{
	static char stack[64 * 1024];
	stack_t ss = { .ss_sp = stack, .ss_size = sizeof(stack) };
	struct sigaction sa = { .sa_handler = on_signal, .sa_flags = SA_ONSTACK };

	assert_int(sigaltstack(&ss, NULL), 0);
	sigemptyset(&sa.sa_mask);
	assert_int(sigaction(SIGUSR1, &sa, NULL), 0);
	raise(SIGUSR1);
	expect_int(in_handler, 0);
	sa.sa_flags = 0;
	assert_int(sigaction(SIGUSR1, &sa, NULL), 0);
	raise(SIGUSR1);
	expect_int(in_handler, strlen("Queue::pop"));
	ss.ss_flags = SS_DISABLE;
	expect_int(sigaltstack(&ss, NULL), 0);
}

int main(void)
{
	test_names();
	test_lengths();
	test_alternate_stack();
	return harness_done();
}
