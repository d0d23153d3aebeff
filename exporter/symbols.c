#include <dlfcn.h>
#include <elf.h>
#include <link.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <string.h>
#include <unistd.h>

#include "agent/alloc.h"
#include "agent/fd.h"
#include "agent/hashmap.h"
#include "agent/large.h"
#include "exporter/resource.h"
#include "exporter/symbols.h"

enum { MAX_MODULES = 64 };

/* A module's .symtab, mapped whole. */
struct module {
	char path[256];
	const unsigned char *map;
	size_t size;
	const ElfW(Sym) * syms;
	size_t n_syms;
	const char *strtab;
	size_t strtab_size;
	bool failed;
	bool done; /* module_load returned: the entry is whole (see weft_symbols_reset) */
};

/* The cache's entries, by address (the first 8 bytes, for weft_hashmap_eq_u64). */
struct cache_entry {
	uint64_t addr;
	const char *name; /* NULL: looked up, nothing found */
};

static struct module modules[MAX_MODULES] WEFT_LARGE;
static size_t n_modules;
static struct weft_hashmap cache =
	WEFT_HASHMAP_INIT(sizeof(struct cache_entry), weft_hashmap_eq_u64);

static void module_load(struct module *m)
{
	const ElfW(Ehdr) * eh;
	const ElfW(Shdr) * sh;

	m->failed = true;
	/* Never through a descriptor the program could see: it may be opening a file. */
	m->map = weft_fd_map(m->path, &m->size);
	if (!m->map || m->size < sizeof(ElfW(Ehdr)))
		return;
	eh = (const ElfW(Ehdr) *)m->map;
	if (memcmp(eh->e_ident, ELFMAG, SELFMAG) != 0 || eh->e_shoff == 0 ||
	    eh->e_shoff + (size_t)eh->e_shnum * sizeof(ElfW(Shdr)) > m->size)
		return;
	sh = (const ElfW(Shdr) *)(m->map + eh->e_shoff);
	for (size_t i = 0; i < eh->e_shnum; i++) {
		const ElfW(Shdr) * str;

		if (sh[i].sh_type != SHT_SYMTAB || sh[i].sh_link >= eh->e_shnum)
			continue;
		str = &sh[sh[i].sh_link];
		if (sh[i].sh_offset + sh[i].sh_size > m->size ||
		    str->sh_offset + str->sh_size > m->size)
			return;
		m->syms = (const ElfW(Sym) *)(m->map + sh[i].sh_offset);
		m->n_syms = sh[i].sh_size / sizeof(ElfW(Sym));
		m->strtab = (const char *)(m->map + str->sh_offset);
		m->strtab_size = str->sh_size;
		m->failed = false;
		return;
	}
}

static struct module *module_get(const char *path)
{
	struct module *m;

	for (size_t i = 0; i < n_modules; i++)
		if (strcmp(modules[i].path, path) == 0)
			return &modules[i];
	if (n_modules == MAX_MODULES || strlen(path) >= sizeof(m->path))
		return NULL;
	m = &modules[n_modules++];
	strcpy(m->path, path);
	module_load(m);
	/* Last, as a fork would see it: a forked child drops an entry not done. */
	atomic_signal_fence(memory_order_seq_cst);
	m->done = true;
	return m;
}

static const char *symtab_lookup(const char *path, uintptr_t offset)
{
	struct module *m = module_get(path);

	if (!m || m->failed)
		return NULL;
	for (size_t i = 0; i < m->n_syms; i++) {
		const ElfW(Sym) *s = &m->syms[i];

		if (ELF64_ST_TYPE(s->st_info) != STT_FUNC || s->st_name >= m->strtab_size)
			continue;
		if (offset >= s->st_value && offset < s->st_value + (s->st_size ? s->st_size : 1))
			return m->strtab + s->st_name;
	}
	return NULL;
}

/* /proc/self/exe, because dladdr names the main program by argv[0]. */
static const char *exe_path(void)
{
	static char path[256];
	const char *built = weft_resource_exe_path();
	ssize_t n;

	/* The resource has read it already, in any process that exports. */
	if (built[0])
		return built;
	if (path[0])
		return path;
	n = readlink("/proc/self/exe", path, sizeof(path) - 1);
	path[n > 0 ? n : 0] = '\0';
	return path;
}

static const char *lookup(uintptr_t addr)
{
	Dl_info info;
	struct link_map *lm = NULL;
	const char *path;

	if (!dladdr1((void *)addr, &info, (void **)&lm, RTLD_DL_LINKMAP))
		return NULL;
	if (info.dli_sname && info.dli_saddr)
		return info.dli_sname;
	path = (lm && lm->l_name && lm->l_name[0]) ? lm->l_name : exe_path();
	if (!path[0] && info.dli_fname)
		path = info.dli_fname;
	/* Symbol values are link-time addresses: relative to l_addr for PIE and DSOs. */
	return symtab_lookup(path, addr - (lm ? lm->l_addr : 0));
}

void weft_symbols_init(void)
{
	/* Nothing to read when the resource has it (and nothing of ours to touch). */
	if (!weft_resource_exe_path()[0])
		exe_path();
}

const char *weft_symbols_name(uintptr_t addr)
{
	uint64_t key = addr, h = weft_hashmap_hash_u64(key);
	struct cache_entry *e;
	const char *name;
	void *p;

	if (!addr)
		return NULL;
	e = weft_hashmap_find(&cache, h, &key);
	if (e)
		return e->name;
	name = lookup(addr);
	/* Short of memory, the answer is given uncached. */
	if (weft_hashmap_put(&cache, h, &key, &p) < 0)
		return name;
	/* The name points into a mapping or the loader's tables; intern a copy. */
	e = p;
	e->addr = key;
	e->name = name ? weft_strdup(name) : NULL;
	return e->name;
}

void weft_symbols_reset(void)
{
	/*
	 * In a forked child: a module the parent's exporter was loading at the
	 * fork is half made (marked failed, or with no symbols yet), and every
	 * lookup in it would find nothing for good. Forget it (its mapping, if
	 * any, stays) so that the child's first lookup loads it again.
	 */
	if (n_modules && !modules[n_modules - 1].done) {
		n_modules--;
		memset(&modules[n_modules], 0, sizeof(modules[n_modules]));
	}
	weft_hashmap_init(&cache, sizeof(struct cache_entry), weft_hashmap_eq_u64);
}
