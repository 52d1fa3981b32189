#include <stdlib.h>

#include "common/text.h"
#include "watcherd/watch/cache.h"

void
cache_init(struct cache *c, size_t limit)
{
	c->limit = limit;
	c->used = 0;
	TAILQ_INIT(&c->lru);
}

static size_t
entry_cost(const struct cache_entry *e)
{
	return e->len + e->literal_len;
}

static void
free_entry(struct cache *c, struct cache_entry *e)
{
	TAILQ_REMOVE(&c->lru, e, entry);
	c->used -= entry_cost(e);
	*e->slot = NULL;
	free(e->data);
	free(e->literal);
	free(e);
}

/* Evicts from the cold end until used fits, sparing keep. */
static void
evict(struct cache *c, const struct cache_entry *keep)
{
	struct cache_entry *e = TAILQ_LAST(&c->lru, cache_lru);

	while (c->used > c->limit && e) {
		struct cache_entry *prev = TAILQ_PREV(e, cache_lru, entry);

		if (e != keep)
			free_entry(c, e);
		e = prev;
	}
}

void
cache_clear(struct cache *c)
{
	while (!TAILQ_EMPTY(&c->lru))
		free_entry(c, TAILQ_FIRST(&c->lru));
}

void
cache_set_limit(struct cache *c, size_t limit)
{
	c->limit = limit;
	evict(c, NULL);
}

void
cache_drop(struct cache *c, struct cache_entry **slot)
{
	if (*slot)
		free_entry(c, *slot);
}

struct cache_entry *
cache_put(struct cache *c, struct cache_entry **slot, char *data, size_t len)
{
	struct cache_entry *e;

	cache_drop(c, slot);
	if (len > c->limit || (e = calloc(1, sizeof(*e))) == NULL)
		return NULL;
	e->data = data;
	e->len = len;
	e->slot = slot;
	*slot = e;
	TAILQ_INSERT_HEAD(&c->lru, e, entry);
	c->used += len;
	evict(c, e);
	return e;
}

void
cache_touch(struct cache *c, struct cache_entry *e)
{
	if (TAILQ_FIRST(&c->lru) != e) {
		TAILQ_REMOVE(&c->lru, e, entry);
		TAILQ_INSERT_HEAD(&c->lru, e, entry);
	}
}

const char *
cache_literal(struct cache *c, struct cache_entry *e)
{
	if (e->literal == NULL) {
		e->literal = text_content_literal(e->data, e->len,
		    &e->literal_len, &e->is_base64);
		if (e->literal == NULL)
			return NULL;
		c->used += e->literal_len;
		evict(c, e);
	}
	return e->literal;
}
