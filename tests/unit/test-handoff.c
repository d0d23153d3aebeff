/*
 * The hand-off table: a take returns what was published on the same object
 * after the mark, and nothing else; weft_handoff_reset (a forked child) leaves
 * the table working and does not rewrite it (a child that rewrote all of it
 * paid a page fault for each of its 32 pages).
 */
#include <sys/resource.h>

#include "agent/handoff.h"
#include "tests/unit/harness.h"

static long minor_faults(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_minflt;
}

static void test_take(void)
{
	static int a, b;
	uint64_t mark = weft_handoff_mark(&a), when = 0;

	expect_int(weft_handoff_take(&a, mark, &when), 0); /* nothing published since */
	expect_int(when, 0);                               /* left alone */
	weft_handoff_publish(&a, 42, 1000);
	expect_int(weft_handoff_take(&a, mark, &when), 42);
	expect_int(when, 1000); /* when it was published */
	mark = weft_handoff_mark(&b);
	weft_handoff_publish(&a, 43, 2000);
	expect_int(weft_handoff_take(&b, mark, &when), 0); /* another object */
	expect_int(when, 1000);
}

static void test_reset(void)
{
	static int c;
	long before;
	uint64_t mark, when;

	weft_handoff_publish(&c, 7, 1);
	before = minor_faults();
	weft_handoff_reset();
	/*
	 * The whole table is 32 pages; a reset touches none but those in use.
	 * (Not under ThreadSanitizer, whose shadow of each page read faults in.)
	 */
#ifndef __SANITIZE_THREAD__
	expect_true(minor_faults() - before < 8);
#else
	(void)before;
#endif
	mark = weft_handoff_mark(&c);
	expect_int(weft_handoff_take(&c, mark, &when), 0);
	weft_handoff_publish(&c, 8, 2);
	expect_int(weft_handoff_take(&c, mark, &when), 8);
}

int main(void)
{
	test_take();
	test_reset();
	return harness_done();
}
