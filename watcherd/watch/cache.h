/*
 * The content cache: the bytes of hot files, and the JSON literal made from
 * them, held in memory up to a total byte budget and evicted least recently
 * used first. Each entry sits in one owner's slot (a struct watch field);
 * eviction clears that slot.
 */
#ifndef CACHE_H
#define CACHE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/queue.h>

struct cache_entry {
	char			 *data;		/* the file's bytes */
	size_t			  len;
	char			 *literal;	/* its "content" JSON value, or NULL */
	size_t			  literal_len;
	int			  is_base64;
	struct cache_entry	**slot;		/* the owner's pointer to us */
	TAILQ_ENTRY(cache_entry)  entry;	/* in the LRU */
};

struct cache {
	size_t			 limit;
	size_t			 used;
	TAILQ_HEAD(cache_lru, cache_entry) lru;	/* most recent first */
};

void	cache_init(struct cache *, size_t limit);
/* Drops every entry. */
void	cache_clear(struct cache *);
/* Sets a new budget, evicting down to it. */
void	cache_set_limit(struct cache *, size_t limit);
/*
 * Stores data (malloc()ed) in *slot, replacing whatever the slot held, and
 * takes the data over. Returns NULL, leaving the data the caller's and the
 * slot empty, when len alone exceeds the budget or memory is exhausted.
 */
struct cache_entry *cache_put(struct cache *, struct cache_entry **slot,
	    char *data, size_t len);
/* Marks the entry as just used. */
void	cache_touch(struct cache *, struct cache_entry *);
/* Frees the entry in *slot, if any, and empties the slot. */
void	cache_drop(struct cache *, struct cache_entry **slot);
/* The entry's JSON literal, made on first use. Returns NULL when memory is
   exhausted. */
const char *cache_literal(struct cache *, struct cache_entry *);

#endif
