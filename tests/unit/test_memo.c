/*
 * Remembered answers: found by key, newest first, bounded, the oldest idle
 * entry evicted when full and a busy one never, everything released once.
 */
#include <stdlib.h>
#include <string.h>

#include "watcherd/memo.h"
#include "tests/unit/tap.h"

struct thing {
	struct memo_entry	 e;
	int			 busy;
	int			 id;
};

static int released[16];

static int
thing_busy(struct memo_entry *e)
{
	return ((struct thing *)e)->busy;
}

static void
thing_release(struct memo_entry *e)
{
	struct thing *t = (struct thing *)e;

	released[t->id]++;
	free(t);
}

static struct thing *
add(struct memo *m, int id, const char *key, int busy)
{
	struct thing *t = calloc(1, sizeof(*t));

	t->id = id;
	t->busy = busy;
	if (memo_add(m, &t->e, key, strlen(key)) == -1) {
		free(t);
		return NULL;
	}
	return t;
}

static struct thing *
get(struct memo *m, const char *key)
{
	return (struct thing *)memo_get(m, key, strlen(key));
}

int
main(void)
{
	struct memo m;
	struct thing *a, *b;
	int i, once = 1;

	tap_ok(memo_init(&m, 3, thing_busy, thing_release) == 0, "a memo of 3");
	a = add(&m, 1, "alice", 1);
	b = add(&m, 2, "bob", 0);
	add(&m, 3, "carol", 0);
	tap_ok(get(&m, "alice") == a && get(&m, "bob") == b &&
	    get(&m, "dave") == NULL, "entries are found by key, others not");
	tap_ok(LIST_NEXT(LIST_NEXT(LIST_FIRST(&m.entries), entry), entry) ==
	    &a->e && LIST_NEXT(&a->e, entry) == NULL,
	    "the list runs from newest to oldest");
	add(&m, 4, "dave", 0);
	tap_ok(get(&m, "alice") == a && get(&m, "bob") == NULL &&
	    released[2] == 1 && memo_count(&m) == 3,
	    "full: the oldest idle entry goes, the busy older one stays");
	a->busy = 0;
	add(&m, 5, "erin", 0);
	tap_ok(get(&m, "alice") == NULL && released[1] == 1,
	    "once idle, the oldest goes first");
	memo_drop(&m, &get(&m, "carol")->e);
	tap_ok(get(&m, "carol") == NULL && released[3] == 1 &&
	    memo_count(&m) == 2, "a dropped entry is released and gone");
	memo_clear(&m);
	for (i = 1; i <= 5; i++)
		once &= released[i] == 1;
	tap_ok(once, "clearing releases every entry, each once");
	return tap_done();
}
