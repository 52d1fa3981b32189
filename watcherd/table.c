#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "watcherd/table.h"

struct entry {
	struct entry	*next;
	void		*value;
	uint64_t	 hash;
	size_t		 keylen;
	unsigned char	 key[];
};

struct table {
	struct entry	**buckets;
	size_t		  n_buckets;	/* a power of two */
	size_t		  count;
};

/* FNV-1a: keys here are short (names, inode numbers, descriptors). */
static uint64_t
hash_key(const void *key, size_t len)
{
	const unsigned char *p = key;
	uint64_t h = 14695981039346656037ULL;

	while (len--) {
		h ^= *p++;
		h *= 1099511628211ULL;
	}
	return h;
}

struct table *
table_new(void)
{
	struct table *t = calloc(1, sizeof(*t));

	if (t == NULL)
		return NULL;
	t->n_buckets = 64;
	if ((t->buckets = calloc(t->n_buckets, sizeof(*t->buckets))) == NULL) {
		free(t);
		return NULL;
	}
	return t;
}

void
table_free(struct table *t)
{
	struct entry *e, *next;
	size_t i;

	if (t == NULL)
		return;
	for (i = 0; i < t->n_buckets; i++)
		for (e = t->buckets[i]; e; e = next) {
			next = e->next;
			free(e);
		}
	free(t->buckets);
	free(t);
}

static void
grow(struct table *t)
{
	size_t n = t->n_buckets * 2, i;
	struct entry **b, *e, *next;

	if ((b = calloc(n, sizeof(*b))) == NULL)
		return;		/* longer chains, still correct */
	for (i = 0; i < t->n_buckets; i++)
		for (e = t->buckets[i]; e; e = next) {
			next = e->next;
			e->next = b[e->hash & (n - 1)];
			b[e->hash & (n - 1)] = e;
		}
	free(t->buckets);
	t->buckets = b;
	t->n_buckets = n;
}

int
table_add(struct table *t, const void *key, size_t keylen, void *value)
{
	struct entry *e;
	size_t i;

	if ((e = malloc(sizeof(*e) + keylen)) == NULL)
		return -1;
	e->hash = hash_key(key, keylen);
	e->keylen = keylen;
	e->value = value;
	memcpy(e->key, key, keylen);
	i = e->hash & (t->n_buckets - 1);
	e->next = t->buckets[i];
	t->buckets[i] = e;
	if (++t->count > t->n_buckets)
		grow(t);
	return 0;
}

static int
matches(const struct entry *e, uint64_t h, const void *key, size_t keylen)
{
	return e->hash == h && e->keylen == keylen &&
	    memcmp(e->key, key, keylen) == 0;
}

void *
table_get(const struct table *t, const void *key, size_t keylen)
{
	uint64_t h = hash_key(key, keylen);
	struct entry *e;

	for (e = t->buckets[h & (t->n_buckets - 1)]; e; e = e->next)
		if (matches(e, h, key, keylen))
			return e->value;
	return NULL;
}

size_t
table_get_all(const struct table *t, const void *key, size_t keylen,
    void **out, size_t max)
{
	uint64_t h = hash_key(key, keylen);
	struct entry *e;
	size_t n = 0;

	for (e = t->buckets[h & (t->n_buckets - 1)]; e; e = e->next)
		if (matches(e, h, key, keylen)) {
			if (n < max)
				out[n] = e->value;
			n++;
		}
	return n;
}

int
table_del(struct table *t, const void *key, size_t keylen, void *value)
{
	uint64_t h = hash_key(key, keylen);
	struct entry **p, *e;

	for (p = &t->buckets[h & (t->n_buckets - 1)]; (e = *p); p = &e->next)
		if (e->value == value && matches(e, h, key, keylen)) {
			*p = e->next;
			free(e);
			t->count--;
			return 0;
		}
	return -1;
}

size_t
table_count(const struct table *t)
{
	return t->count;
}
