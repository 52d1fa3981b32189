/*
 * A hash table from byte-string keys to pointers, with duplicate keys
 * allowed (several names may sit in one directory entry). The table owns
 * its copies of the keys, never the values.
 */
#ifndef TABLE_H
#define TABLE_H

#include <stddef.h>

struct table;

/* Returns an empty table, or NULL when memory is exhausted. */
struct table	*table_new(void);
/* Frees the table and its keys; values are left alone. */
void		 table_free(struct table *);
/* Adds the pair (duplicates allowed). Returns 0, or -1 (no memory). */
int		 table_add(struct table *, const void *key, size_t keylen,
		    void *value);
/* The value of the first pair with this key, or NULL. */
void		*table_get(const struct table *, const void *key, size_t keylen);
/* Copies up to max values stored under key into out; returns how many
   there are in all. */
size_t		 table_get_all(const struct table *, const void *key,
		    size_t keylen, void **out, size_t max);
/* Removes the pair (key, value). Returns 0, or -1 when absent. */
int		 table_del(struct table *, const void *key, size_t keylen,
		    void *value);
/* The number of pairs. */
size_t		 table_count(const struct table *);

#endif
