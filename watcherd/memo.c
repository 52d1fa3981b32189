#include <stdlib.h>
#include <string.h>

#include "watcherd/memo.h"
#include "watcherd/table.h"

int
memo_init(struct memo *m, size_t max, int (*busy)(struct memo_entry *),
    void (*release)(struct memo_entry *))
{
	memset(m, 0, sizeof(*m));
	m->max = max;
	m->busy = busy;
	m->release = release;
	return (m->table = table_new()) == NULL ? -1 : 0;
}

void
memo_drop(struct memo *m, struct memo_entry *e)
{
	char *key = e->key;

	table_del(m->table, e->key, e->keylen, e);
	LIST_REMOVE(e, entry);
	/* The key last: release may still need it (a run's share of its
	   user, given back by name). */
	m->release(e);
	free(key);
}

void
memo_clear(struct memo *m)
{
	while (!LIST_EMPTY(&m->entries))
		memo_drop(m, LIST_FIRST(&m->entries));
	table_free(m->table);
	m->table = NULL;
}

struct memo_entry *
memo_get(const struct memo *m, const void *key, size_t keylen)
{
	return table_get(m->table, key, keylen);
}

int
memo_add(struct memo *m, struct memo_entry *e, const void *key, size_t keylen)
{
	struct memo_entry *u, *oldest = NULL;

	if (table_count(m->table) >= m->max) {
		LIST_FOREACH(u, &m->entries, entry)
			if (!m->busy(u))
				oldest = u;
		if (oldest)
			memo_drop(m, oldest);
	}
	if ((e->key = malloc(keylen ? keylen : 1)) == NULL)
		return -1;
	memcpy(e->key, key, keylen);
	e->keylen = keylen;
	if (table_add(m->table, e->key, keylen, e) == -1) {
		free(e->key);
		e->key = NULL;
		return -1;
	}
	LIST_INSERT_HEAD(&m->entries, e, entry);
	return 0;
}

size_t
memo_count(const struct memo *m)
{
	return table_count(m->table);
}

struct memo_entry *
memo_get_or_add(struct memo *m, const void *key, size_t keylen, size_t size,
    int *added)
{
	struct memo_entry *e;

	*added = 0;
	if ((e = memo_get(m, key, keylen)) != NULL)
		return e;
	if ((e = calloc(1, size)) == NULL || memo_add(m, e, key, keylen) == -1) {
		free(e);
		return NULL;
	}
	*added = 1;
	return e;
}
