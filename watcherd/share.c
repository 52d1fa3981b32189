#include <stdlib.h>
#include <string.h>

#include "watcherd/share.h"

/* A user holding slots; there are at most as many as slots taken. */
struct share_user {
	struct share_user	*next;
	unsigned		 held;
	char			 name[];
};

static struct share_user **
find(struct share *sh, const char *user)
{
	struct share_user **u;

	for (u = &sh->users; *u; u = &(*u)->next)
		if (strcmp((*u)->name, user) == 0)
			break;
	return u;
}

enum share_answer
share_take(struct share *sh, const char *user, unsigned total,
    unsigned per_user)
{
	struct share_user **u, *nu;
	size_t len;

	if (sh->taken >= total)
		return SHARE_FULL;
	if (user) {
		if (per_user == 0)
			return SHARE_USER_FULL;
		u = find(sh, user);
		if (*u == NULL) {
			len = strlen(user) + 1;
			if ((nu = calloc(1, sizeof(*nu) + len)) == NULL)
				return SHARE_NO_MEMORY;
			memcpy(nu->name, user, len);
			*u = nu;
		}
		if ((*u)->held >= per_user)
			return SHARE_USER_FULL;
		(*u)->held++;
	}
	sh->taken++;
	return SHARE_TAKEN;
}

void
share_give(struct share *sh, const char *user)
{
	struct share_user **u, *gone;

	sh->taken--;
	if (user == NULL || *(u = find(sh, user)) == NULL)
		return;
	if (--(*u)->held == 0) {
		gone = *u;
		*u = gone->next;
		free(gone);
	}
}
