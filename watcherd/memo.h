/*
 * Remembered answers (accounts, permissions, access-command verdicts): a
 * hash table of byte-string keys with a list from newest to oldest, and a
 * bound. When full, adding evicts the oldest entry that is not busy. The
 * entry is embedded first in its owner's struct; the memo owns its copy
 * of the key, the owner everything else.
 */
#ifndef MEMO_H
#define MEMO_H

#include <stddef.h>
#include <sys/queue.h>

struct table;

struct memo_entry {
	LIST_ENTRY(memo_entry)	 entry;	/* in the memo's entries; the next
					   is older */
	char			*key;
	size_t			 keylen;
};

struct memo {
	struct table		*table;
	LIST_HEAD(, memo_entry)	 entries;	/* newest first */
	size_t			 max;
	/* 1 while e may not be evicted (work under way for it). */
	int			(*busy)(struct memo_entry *e);
	/* Frees the owner of e, after the memo has let go of it (e->key is
	   still valid during the call). */
	void			(*release)(struct memo_entry *e);
};

/* Sets up an empty memo. Returns 0, or -1 when out of memory. */
int	memo_init(struct memo *, size_t max, int (*busy)(struct memo_entry *),
	    void (*release)(struct memo_entry *));
/* Releases every entry, busy or not, and the table. */
void	memo_clear(struct memo *);
/* The entry of key, or NULL. */
struct memo_entry *memo_get(const struct memo *, const void *key,
	    size_t keylen);
/* Adds e (zeroed by the caller) under a copy of key, as the newest entry,
   evicting the oldest idle one when the memo is full. Returns 0, or -1
   when out of memory (e is not added). */
int	memo_add(struct memo *, struct memo_entry *e, const void *key,
	    size_t keylen);
/* The entry of key, or else a new one of size bytes (the owner's struct,
   zeroed, its memo_entry first) added as memo_add() does, with *added
   set. NULL when out of memory. */
struct memo_entry *memo_get_or_add(struct memo *, const void *key,
	    size_t keylen, size_t size, int *added);
/* Takes e out and releases it. */
void	memo_drop(struct memo *, struct memo_entry *e);
size_t	memo_count(const struct memo *);

#endif
