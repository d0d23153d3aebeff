/*
 * Two small libraries for test-symbols (built as libsymlib-a.so and
 * libsymlib-b.so): exported functions whose names differ between them, laid
 * out differently, so that a name read from the wrong one shows.
 */
#include <stdint.h>

int symlib_beta_pad(int x);
int symlib_beta_one(int x);
int symlib_beta_two(int x);
int symlib_alpha_one(int x);
int symlib_alpha_two(int x);

#ifdef SYMLIB_B
/* Room first: B's functions start where A's do not. */
__attribute__((noinline, used, visibility("default"))) int symlib_beta_pad(int x)
{
	volatile int v = x;

	for (int i = 0; i < 64; i++)
		v = v * 31 + i;
	return v;
}

__attribute__((noinline, visibility("default"))) int symlib_beta_one(int x)
{
	return x + 11;
}

__attribute__((noinline, visibility("default"))) int symlib_beta_two(int x)
{
	return x * 13;
}
#else
__attribute__((noinline, visibility("default"))) int symlib_alpha_one(int x)
{
	return x + 1;
}

__attribute__((noinline, visibility("default"))) int symlib_alpha_two(int x)
{
	return x * 3;
}
#endif
