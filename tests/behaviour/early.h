/* What libearly.so's constructor saw; see early.c. */
#ifndef WEFT_TESTS_BEHAVIOUR_EARLY_H
#define WEFT_TESTS_BEHAVIOUR_EARLY_H

struct early_result {
	int ran;
	int create_rc, setname_rc, join_rc;
	int value_ok;
	int errno_kept;
	char name_seen[16];
};

__attribute__((visibility("default"))) const struct early_result *early_result(void);

#endif
