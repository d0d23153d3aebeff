/*
 * The configuration tests' fake environment and captured warnings, shared by
 * test-config.c (the loader and its messages) and test-config-values.c (what
 * each kind of row accepts).
 */
#ifndef WEFT_TESTS_UNIT_TEST_CONFIG_H
#define WEFT_TESTS_UNIT_TEST_CONFIG_H

#include <stdio.h>
#include <string.h>

#include "agent/config.h"
#include "tests/unit/harness.h"

#define US   UINT64_C(1000)
#define MS   UINT64_C(1000000)
#define SEC  UINT64_C(1000000000)
#define HOUR (3600 * SEC)

/* The fake environment. */
static struct {
	const char *name;
	const char *value;
} env[64];
static int nenv;

static inline void env_reset(void)
{
	nenv = 0;
}

static inline void env_set(const char *name, const char *value)
{
	assert_true(nenv < (int)(sizeof(env) / sizeof(env[0])));
	env[nenv].name = name;
	env[nenv].value = value;
	nenv++;
}

static inline const char *fake_get(const char *name)
{
	for (int i = 0; i < nenv; i++)
		if (strcmp(env[i].name, name) == 0)
			return env[i].value;
	return NULL;
}

/* The captured warnings. */
#define MAX_WARNINGS 64
static char warnings[MAX_WARNINGS][1024];
static int nwarn;

static inline void capture(const char *line)
{
	if (nwarn < MAX_WARNINGS)
		snprintf(warnings[nwarn], sizeof(warnings[0]), "%s", line);
	nwarn++;
}

static inline void load(struct weft_config *cfg)
{
	nwarn = 0;
	memset(warnings, 0, sizeof(warnings));
	weft_config_load_from(cfg, fake_get, capture);
}

/* Loads with exactly one variable set. */
static inline void load1(struct weft_config *cfg, const char *name, const char *value)
{
	env_reset();
	env_set(name, value);
	load(cfg);
}

/* The configuration with nothing set. */
static inline void load_defaults(struct weft_config *cfg)
{
	env_reset();
	load(cfg);
}

#endif
